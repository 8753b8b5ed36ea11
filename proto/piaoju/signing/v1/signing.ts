/**
 * piaoju.signing.v1 for TypeScript: hand-written types of signing.proto's messages as
 * @grpc/proto-loader hands them over with LOADER_OPTIONS (camelCase fields, enums as their
 * names, 64-bit integers as numbers, defaults filled in, oneof discriminators), and the loader.
 * No code generation: the .proto file beside this one is read at run time.
 *
 * Convention: `XxxInput` is what a caller sends (every field optional, bytes as any Uint8Array);
 * `Xxx` is what the receiver gets (defaults filled in, bytes as Buffer; proto3 `optional` fields
 * and oneof members are `undefined` when absent).
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const SIGNING_PROTO_PATH = fileURLToPath(new URL("./signing.proto", import.meta.url));
export const SIGNING_SERVICE_NAME = "piaoju.signing.v1.SigningDevice";

/** The options both sides load the proto with; the types below depend on them. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export type SignatureFormat =
  | "SIGNATURE_FORMAT_UNSPECIFIED"
  | "SIGNATURE_FORMAT_RAW_DER"
  | "SIGNATURE_FORMAT_PKCS7_DETACHED"
  | "SIGNATURE_FORMAT_PKCS7_ATTACHED"
  | "SIGNATURE_FORMAT_RAW_RS"
  | "SIGNATURE_FORMAT_XML_ENVELOPED";

/** The GM/T 0010 identifiers written for a peer; UNSPECIFIED is DEFAULT (ADR 0019). */
export type Pkcs7Profile =
  | "PKCS7_PROFILE_UNSPECIFIED"
  | "PKCS7_PROFILE_DEFAULT"
  | "PKCS7_PROFILE_GMSSL"
  | "PKCS7_PROFILE_GMT0010";

export type ServingStatus = "SERVING_STATUS_UNSPECIFIED" | "SERVING" | "NOT_SERVING";

// ---- Sign -------------------------------------------------------------------------------------

export interface SignRequestInput {
  keyId?: string;
  data?: Uint8Array;
  /** Absent: the GM/T 0009 default ID "1234567812345678". */
  userId?: string;
  format?: SignatureFormat;
  requestId?: string;
  profile?: Pkcs7Profile;
}
export interface SignRequest {
  keyId: string;
  data: Buffer;
  userId?: string;
  format: SignatureFormat;
  requestId: string;
  profile: Pkcs7Profile;
}
export interface SignResponse {
  signature: Buffer;
  format: SignatureFormat;
  certFingerprint: string;
  keyId: string;
  requestId: string;
}
export type SignResponseInput = Partial<SignResponse>;

// ---- Verify -----------------------------------------------------------------------------------

export interface VerifyRequestInput {
  /** At most one of keyId, certificate, publicKey (a oneof). */
  keyId?: string;
  certificate?: Uint8Array;
  publicKey?: Uint8Array;
  data?: Uint8Array;
  signature?: Uint8Array;
  userId?: string;
  format?: SignatureFormat;
  requestId?: string;
}
export interface VerifyRequest {
  signer?: "keyId" | "certificate" | "publicKey";
  keyId?: string;
  certificate?: Buffer;
  publicKey?: Buffer;
  data: Buffer;
  signature: Buffer;
  userId?: string;
  format: SignatureFormat;
  requestId: string;
}
export interface VerifyResponse {
  valid: boolean;
  reason: string;
  signerFingerprint: string;
  requestId: string;
}
export type VerifyResponseInput = Partial<VerifyResponse>;

// ---- SignBatch --------------------------------------------------------------------------------

export interface SignBatchRequestInput {
  items?: SignRequestInput[];
}
export interface SignBatchRequest {
  items: SignRequest[];
}
export interface ItemError {
  /** A gRPC status code (grpc.status). */
  code: number;
  message: string;
}
export interface SignBatchResult {
  index: number;
  outcome?: "signature" | "error";
  signature?: SignResponse;
  error?: ItemError;
}
export interface SignBatchResultInput {
  index?: number;
  signature?: SignResponseInput;
  error?: ItemError;
}
export interface SignBatchResponse {
  results: SignBatchResult[];
}
export interface SignBatchResponseInput {
  results?: SignBatchResultInput[];
}

// ---- VerifyBatch ------------------------------------------------------------------------------

export interface VerifyBatchRequestInput {
  items?: VerifyRequestInput[];
}
export interface VerifyBatchRequest {
  items: VerifyRequest[];
}
export interface VerifyBatchResult {
  index: number;
  outcome?: "verdict" | "error";
  verdict?: VerifyResponse;
  error?: ItemError;
}
export interface VerifyBatchResultInput {
  index?: number;
  verdict?: VerifyResponseInput;
  error?: ItemError;
}
export interface VerifyBatchResponse {
  results: VerifyBatchResult[];
}
export interface VerifyBatchResponseInput {
  results?: VerifyBatchResultInput[];
}

// ---- SignStream -------------------------------------------------------------------------------

export interface SignStreamHeader {
  keyId: string;
  userId?: string;
  format: SignatureFormat;
  requestId: string;
  profile: Pkcs7Profile;
}
export interface SignStreamHeaderInput {
  keyId?: string;
  userId?: string;
  format?: SignatureFormat;
  requestId?: string;
  profile?: Pkcs7Profile;
}
/** Exactly one of header (first message only) or chunk. */
export interface SignStreamRequestInput {
  header?: SignStreamHeaderInput;
  chunk?: Uint8Array;
}
export interface SignStreamRequest {
  part?: "header" | "chunk";
  header?: SignStreamHeader;
  chunk?: Buffer;
}

// ---- Envelopes --------------------------------------------------------------------------------

export interface MakeEnvelopeRequestInput {
  recipientCertificates?: Uint8Array[];
  content?: Uint8Array;
  requestId?: string;
  profile?: Pkcs7Profile;
}
export interface MakeEnvelopeRequest {
  recipientCertificates: Buffer[];
  content: Buffer;
  requestId: string;
  profile: Pkcs7Profile;
}
export interface MakeEnvelopeResponse {
  envelope: Buffer;
  requestId: string;
}
export type MakeEnvelopeResponseInput = Partial<MakeEnvelopeResponse>;

export interface OpenEnvelopeRequestInput {
  keyId?: string;
  envelope?: Uint8Array;
  requestId?: string;
}
export interface OpenEnvelopeRequest {
  keyId: string;
  envelope: Buffer;
  requestId: string;
}
export interface OpenEnvelopeResponse {
  content: Buffer;
  requestId: string;
}
export type OpenEnvelopeResponseInput = Partial<OpenEnvelopeResponse>;

// ---- Keys and certificates --------------------------------------------------------------------

export interface GetCertificateRequestInput {
  keyId?: string;
}
export interface GetCertificateRequest {
  keyId: string;
}
export interface GetCertificateResponse {
  keyId: string;
  certificate: Buffer;
  chain: Buffer[];
  chainPem: string;
  fingerprint: string;
  publicKey: Buffer;
}
export type GetCertificateResponseInput = Partial<GetCertificateResponse>;

export interface CreateCertificationRequestRequestInput {
  keyId?: string;
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
  requestId?: string;
}
export interface CreateCertificationRequestRequest {
  keyId: string;
  commonName: string;
  organization: string;
  organizationalUnit: string;
  country: string;
  requestId: string;
}
export interface CreateCertificationRequestResponse {
  certificationRequest: Buffer;
  pem: string;
  requestId: string;
}
export type CreateCertificationRequestResponseInput = Partial<CreateCertificationRequestResponse>;

export type ListKeysRequestInput = Record<string, never>;
export type ListKeysRequest = Record<string, never>;
export interface KeyInfo {
  keyId: string;
  publicKey: Buffer;
  hasCertificate: boolean;
  certFingerprint: string;
  subject: string;
  notBefore: string;
  notAfter: string;
}
export interface ListKeysResponse {
  keys: KeyInfo[];
}
export interface ListKeysResponseInput {
  keys?: Partial<KeyInfo>[];
}

// ---- Health -----------------------------------------------------------------------------------

export type HealthRequestInput = Record<string, never>;
export type HealthRequest = Record<string, never>;
export interface HealthResponse {
  status: ServingStatus;
  inFlight: number;
  queueDepth: number;
  capacity: number;
  workers: number;
  keysLoaded: number;
  implementation: string;
  maxPayloadBytes: number;
  maxStreamBytes: number;
  maxBatchItems: number;
}
export type HealthResponseInput = Partial<HealthResponse>;

// ---- Service ----------------------------------------------------------------------------------

/** What a server implements (pass to `server.addService(service, handlers)`). */
export interface SigningDeviceHandlers extends grpc.UntypedServiceImplementation {
  sign: grpc.handleUnaryCall<SignRequest, SignResponseInput>;
  verify: grpc.handleUnaryCall<VerifyRequest, VerifyResponseInput>;
  signBatch: grpc.handleUnaryCall<SignBatchRequest, SignBatchResponseInput>;
  verifyBatch: grpc.handleUnaryCall<VerifyBatchRequest, VerifyBatchResponseInput>;
  signStream: grpc.handleClientStreamingCall<SignStreamRequest, SignResponseInput>;
  makeEnvelope: grpc.handleUnaryCall<MakeEnvelopeRequest, MakeEnvelopeResponseInput>;
  openEnvelope: grpc.handleUnaryCall<OpenEnvelopeRequest, OpenEnvelopeResponseInput>;
  getCertificate: grpc.handleUnaryCall<GetCertificateRequest, GetCertificateResponseInput>;
  createCertificationRequest: grpc.handleUnaryCall<
    CreateCertificationRequestRequest,
    CreateCertificationRequestResponseInput
  >;
  listKeys: grpc.handleUnaryCall<ListKeysRequest, ListKeysResponseInput>;
  health: grpc.handleUnaryCall<HealthRequest, HealthResponseInput>;
}

/** A grpc-js unary method as the generated client has it (the full-arguments overload). */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

/** A grpc-js client-streaming method (the full-arguments overload). */
export type ClientStreamMethod<Req, Res> = (
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientWritableStream<Req>;

/** The client grpc-js builds from the proto (methods named as in the .proto, PascalCase). */
export interface SigningDeviceClient extends grpc.Client {
  Sign: UnaryMethod<SignRequestInput, SignResponse>;
  Verify: UnaryMethod<VerifyRequestInput, VerifyResponse>;
  SignBatch: UnaryMethod<SignBatchRequestInput, SignBatchResponse>;
  VerifyBatch: UnaryMethod<VerifyBatchRequestInput, VerifyBatchResponse>;
  SignStream: ClientStreamMethod<SignStreamRequestInput, SignResponse>;
  MakeEnvelope: UnaryMethod<MakeEnvelopeRequestInput, MakeEnvelopeResponse>;
  OpenEnvelope: UnaryMethod<OpenEnvelopeRequestInput, OpenEnvelopeResponse>;
  GetCertificate: UnaryMethod<GetCertificateRequestInput, GetCertificateResponse>;
  CreateCertificationRequest: UnaryMethod<
    CreateCertificationRequestRequestInput,
    CreateCertificationRequestResponse
  >;
  ListKeys: UnaryMethod<ListKeysRequestInput, ListKeysResponse>;
  Health: UnaryMethod<HealthRequestInput, HealthResponse>;
}

export interface SigningProto {
  /** The service definition, for `server.addService`. */
  service: grpc.ServiceDefinition;
  /** Makes a client: `signingProto.newClient("127.0.0.1:50051")`. */
  newClient(
    address: string,
    credentials?: grpc.ChannelCredentials,
    options?: grpc.ClientOptions,
  ): SigningDeviceClient;
}

let cached: SigningProto | undefined;

/** Loads signing.proto once per process (synchronously, a few milliseconds). */
export function loadSigningProto(): SigningProto {
  if (cached) return cached;
  const definition = protoLoader.loadSync(SIGNING_PROTO_PATH, LOADER_OPTIONS);
  const service = definition[SIGNING_SERVICE_NAME];
  if (!service || !isServiceDefinition(service)) {
    throw new Error(`${SIGNING_PROTO_PATH} does not define ${SIGNING_SERVICE_NAME}`);
  }
  const Client = grpc.makeClientConstructor(service, SIGNING_SERVICE_NAME);
  cached = {
    service,
    newClient: (address, credentials = grpc.credentials.createInsecure(), options = {}) =>
      new Client(address, credentials, options) as unknown as SigningDeviceClient,
  };
  return cached;
}

function isServiceDefinition(
  value: protoLoader.AnyDefinition,
): value is protoLoader.ServiceDefinition & grpc.ServiceDefinition {
  return !("format" in value) && Object.values(value).every((m) => typeof m === "object" && "path" in m);
}
