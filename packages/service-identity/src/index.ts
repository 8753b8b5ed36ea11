export {
  createServiceCa,
  IDENTITY_PATTERN,
  IDENTITY_PREFIX,
  identityOfCertificate,
  identityOfSubjectAltName,
  issueServiceCertificate,
  type ServiceCa,
  type ServiceCertificate,
  ServiceIdentityError,
} from "./ca.ts";
export {
  type AuthenticatedCall,
  callerIdentity,
  clientCredentials,
  type Refusal,
  requireCaller,
  serverCredentials,
  TLS_CHANNEL_OPTIONS,
} from "./grpc.ts";
export {
  ensureEmbeddedServiceTls,
  loadServiceCa,
  loadServiceTls,
  type ServiceTls,
  writeServiceCa,
  writeServiceTls,
} from "./tls-files.ts";
