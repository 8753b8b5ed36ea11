import type { PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { identityOfSubjectAltName } from "./ca.ts";
import type { ServiceTls } from "./tls-files.ts";

/**
 * Mutual TLS for gRPC with the platform's service certificates.
 *
 * The server asks every caller for a certificate and completes the handshake whatever it gets,
 * then answers each call from a caller without a certificate its CA issued and valid now with
 * UNAUTHENTICATED (`requireCaller`): a status the caller can read and act on, where a refused
 * handshake would look like an outage (UNAVAILABLE, which a gateway retries and fails over on).
 * The client checks the server's certificate against the CA and that it names the service it
 * meant to reach (its identity, not a host name: devices are reached by addresses that change).
 */

/** TLS 1.3 only: every peer is ours, nothing old to talk to. */
const MIN_VERSION = "TLSv1.3";

class MutualTlsServerCredentials extends grpc.ServerCredentials {
  constructor(tls: Pick<ServiceTls, "ca" | "cert" | "key">) {
    super(
      // Asked for and verified, but the refusal is per call (requireCaller), with a status.
      { requestCert: true, rejectUnauthorized: false, minVersion: MIN_VERSION },
      { ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: MIN_VERSION },
    );
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** Server credentials: this service's certificate, callers' certificates asked for and checked against `ca`. */
export function serverCredentials(tls: Pick<ServiceTls, "ca" | "cert" | "key">): grpc.ServerCredentials {
  return new MutualTlsServerCredentials(tls);
}

/**
 * Channel options for a TLS client: the server is checked by the identity in its certificate,
 * not by host name, so the TLS server name is a fixed one (Node refuses an IP address there).
 */
export const TLS_CHANNEL_OPTIONS = { "grpc.ssl_target_name_override": "piaoju.service" } as const;

/**
 * Channel credentials for calling a service that must present a certificate for one of
 * `serverIdentities`; this service's own certificate goes along when `tls` has one.
 */
export function clientCredentials(
  tls: { ca: Buffer; cert?: Buffer | undefined; key?: Buffer | undefined },
  serverIdentities: readonly string[],
): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null, {
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const identity = identityOfSubjectAltName(cert.subjectaltname);
      if (identity && serverIdentities.includes(identity)) return undefined;
      return new Error(
        `the server's certificate names ${identity ? `"${identity}"` : "no service identity"}, not ${serverIdentities.map((i) => `"${i}"`).join(" or ")}`,
      );
    },
  });
}

/** What a handler's call offers about its connection. */
export interface AuthenticatedCall {
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } | null;
  getPeer(): string;
}

/**
 * The caller's identity, from the certificate it presented in the handshake; undefined when the
 * connection is not TLS, or the caller sent no certificate, or one that the CA did not issue or
 * that is not valid now (grpc-js hands over only certificates that verified).
 */
export function callerIdentity(call: AuthenticatedCall): string | undefined {
  const peer = call.getAuthContext()?.sslPeerCertificate;
  return peer ? identityOfSubjectAltName(peer.subjectaltname) : undefined;
}

/** A refusal as a gRPC status, for a handler to answer with. */
export interface Refusal {
  code: grpc.status;
  details: string;
}

/** The caller's identity, or the UNAUTHENTICATED refusal to answer with. */
export function requireCaller(call: AuthenticatedCall): { identity: string } | { refusal: Refusal } {
  const identity = callerIdentity(call);
  if (identity) return { identity };
  return {
    refusal: {
      code: grpc.status.UNAUTHENTICATED,
      details:
        "a client certificate is required: one the platform's service CA issued, valid now, naming a service (mutual TLS)",
    },
  };
}
