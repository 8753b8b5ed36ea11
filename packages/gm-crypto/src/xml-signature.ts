import { DOMParser, type Document, type Element, XMLSerializer } from "@xmldom/xmldom";
import { SignedXml } from "xml-crypto";
import { GmCryptoError } from "./errors.ts";
import type { Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
import { sign, verify } from "./signature.ts";
import { sm3 } from "./sm3.ts";
import { type Certificate, Certificate as CertificateClass, verifyChain } from "./x509.ts";

/**
 * Enveloped XML signatures (XML-DSig shape) with SM2/SM3, for receipt documents.
 *
 * Structure (what `signXml` writes as the last child of the document element):
 *
 *   <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
 *     <ds:SignedInfo>
 *       <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
 *       <ds:SignatureMethod Algorithm="…#sm2-sm3"/>
 *       <ds:Reference URI="">   (the whole document)
 *         <ds:Transforms> enveloped-signature, exc-c14n </ds:Transforms>
 *         <ds:DigestMethod Algorithm="…#sm3"/> <ds:DigestValue>base64 SM3</ds:DigestValue>
 *       </ds:Reference>
 *     </ds:SignedInfo>
 *     <ds:SignatureValue>base64 of r ‖ s (64 bytes)</ds:SignatureValue>
 *     <ds:KeyInfo><ds:X509Data><ds:X509Certificate>signer's DER</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
 *   </ds:Signature>
 *
 * Canonicalization is Exclusive XML Canonicalization 1.0 (W3C REC, without comments), done by
 * xml-crypto; only the SM3 digest and the SM2 signature are registered here as algorithms.
 * SignatureValue is SM2 over the canonical SignedInfo bytes with Z_A (default user ID
 * 1234567812345678), encoded r ‖ s as XML-DSig does for every EC signature (and as the Chinese
 * e-port signatures do), not DER.
 */

/** The XML-DSig namespace. */
export const XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#";
/** Exclusive XML Canonicalization 1.0, without comments (what we write). */
export const XML_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
/** Canonical XML 1.0, without comments (accepted when a signer used it). */
export const XML_C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
export const XMLDSIG_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/**
 * No W3C/IETF registry (RFC 9231) names SM2 or SM3. These are the identifiers of the China
 * E-port (中国电子口岸) 2022 SM2 XML signature profile, the most widely deployed Chinese use of
 * XML-DSig with SM2 and SM3 we could find; we write these.
 */
export const XMLDSIG_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3";
export const XMLDSIG_SM2_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3";
/** The older identifier in the W3C namespace used by earlier e-port and signing-server SDKs; read only. */
export const XMLDSIG_SM2_SM3_LEGACY = "http://www.w3.org/2000/09/xmldsig#sm2-sm3";

export interface SignXmlOptions {
  key: Sm2PrivateKey;
  /** The signer's certificate; its public key must be the key's. Goes into KeyInfo. */
  certificate: Certificate;
  /** SM2 user ID in Z_A; default 1234567812345678. The verifier must use the same. */
  userId?: string;
  /** "exclusive" (default): Exclusive XML C14N 1.0; "inclusive": Canonical XML 1.0. */
  canonicalization?: "exclusive" | "inclusive";
  /** The SignatureMethod URI to write: XMLDSIG_SM2_SM3 (default) or, for older peers, XMLDSIG_SM2_SM3_LEGACY. */
  signatureMethod?: typeof XMLDSIG_SM2_SM3 | typeof XMLDSIG_SM2_SM3_LEGACY;
}

export interface VerifyXmlOptions {
  /** The certificate the document must be signed with (compared by SM3 fingerprint). */
  expectedCertificate?: Certificate;
  /** Trust anchors: when given, the KeyInfo certificate must chain to one of them. */
  trusted?: Certificate[];
  /** Intermediates for that chain. */
  intermediates?: Certificate[];
  userId?: string;
  /** When the chain is checked; default now. */
  at?: Date;
}

export interface VerifyXmlResult {
  valid: boolean;
  /** Why not valid, for people; absent when valid. */
  reason?: string;
  /** The certificate from KeyInfo (present once it could be read). */
  signer?: Certificate;
}

/**
 * Parses with xmldom 0.9, which refuses documents that are not well-formed (xml-crypto's own
 * xmldom 0.8 recovers from mismatched tags silently). Every report, warnings included (unquoted
 * attributes, undefined entities), refuses the document: a receipt is machine-written.
 */
function parseXml(xml: string): Document {
  const fail = (message: string, cause?: unknown) =>
    new GmCryptoError("BAD_XML", `the document is not well-formed XML: ${message}`, { cause });
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (_level: string, message: string) => {
        throw fail(message);
      },
    }).parseFromString(xml, "text/xml");
  } catch (error) {
    if (error instanceof GmCryptoError) throw error;
    throw fail((error as Error).message, error);
  }
  if (!doc?.documentElement) throw new GmCryptoError("BAD_XML", "the document has no root element");
  return doc;
}

/** SM3 as an xml-crypto digest: base64 of SM3 over the canonical UTF-8 bytes. */
class Sm3Digest {
  getAlgorithmName(): string {
    return XMLDSIG_SM3;
  }
  getHash(xml: string): string {
    return Buffer.from(sm3(Buffer.from(xml, "utf8"))).toString("base64");
  }
}

type SignatureCallback<T> = (error: Error | null, result?: T) => void;

/**
 * An xml-crypto signature algorithm bound to our keys: xml-crypto passes its own key argument
 * (a PEM string) but OpenSSL cannot sign SM2 with Z_A from it, so the class closes over the key.
 */
function sm2Sm3Algorithm(
  name: string,
  keys: { signer?: Sm2PrivateKey; verifier?: Sm2PublicKey },
  userId: string | undefined,
) {
  const idOption = userId === undefined ? {} : { userId };
  return class Sm2Sm3Signature {
    getAlgorithmName(): string {
      return name;
    }
    getSignature(
      signedInfo: string | Uint8Array,
      _key: unknown,
      callback?: SignatureCallback<string>,
    ): string {
      if (!keys.signer) throw new GmCryptoError("BAD_INPUT", "no signing key");
      const bytes = typeof signedInfo === "string" ? Buffer.from(signedInfo, "utf8") : signedInfo;
      const value = Buffer.from(sign(bytes, keys.signer, { format: "raw", ...idOption })).toString("base64");
      callback?.(null, value);
      return value;
    }
    verifySignature(
      material: string,
      _key: unknown,
      signatureValue: string,
      callback?: SignatureCallback<boolean>,
    ): boolean {
      if (!keys.verifier) throw new GmCryptoError("BAD_INPUT", "no verification key");
      const signature = Buffer.from(signatureValue.replace(/\s+/g, ""), "base64");
      const ok =
        signature.length === 64 &&
        verify(Buffer.from(material, "utf8"), signature, keys.verifier, { format: "raw", ...idOption });
      callback?.(null, ok);
      return ok;
    }
  };
}

function signedXmlFor(
  keys: { signer?: Sm2PrivateKey; verifier?: Sm2PublicKey },
  userId: string | undefined,
): SignedXml {
  const signed = new SignedXml();
  // Only SM algorithms: RSA, HMAC and SHA digests in a receipt signature are refused.
  signed.HashAlgorithms = { [XMLDSIG_SM3]: Sm3Digest };
  signed.SignatureAlgorithms = {
    [XMLDSIG_SM2_SM3]: sm2Sm3Algorithm(XMLDSIG_SM2_SM3, keys, userId),
    [XMLDSIG_SM2_SM3_LEGACY]: sm2Sm3Algorithm(XMLDSIG_SM2_SM3_LEGACY, keys, userId),
  } as unknown as SignedXml["SignatureAlgorithms"];
  return signed;
}

function dsigChildren(parent: Element, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (
      node.nodeType === 1 &&
      (node as Element).namespaceURI === XMLDSIG_NS &&
      (node as Element).localName === localName
    ) {
      found.push(node as Element);
    }
  }
  return found;
}

/**
 * Signs `xml` (a whole document) and returns it with an enveloped `ds:Signature` appended to the
 * document element. Bytes outside the document element (declaration, comments) are not signed.
 */
export function signXml(xml: string, options: SignXmlOptions): string {
  const doc = parseXml(xml);
  if (!options.certificate.publicKey.equals(options.key.publicKey)) {
    throw new GmCryptoError("BAD_KEY", "the certificate is not the certificate of the signing key");
  }
  if (doc.getElementsByTagNameNS(XMLDSIG_NS, "Signature").length > 0) {
    throw new GmCryptoError("BAD_XML", "the document already holds a ds:Signature");
  }
  const c14n = options.canonicalization === "inclusive" ? XML_C14N_10 : XML_EXC_C14N;
  const signed = signedXmlFor({ signer: options.key }, options.userId);
  const method = options.signatureMethod ?? XMLDSIG_SM2_SM3;
  if (method !== XMLDSIG_SM2_SM3 && method !== XMLDSIG_SM2_SM3_LEGACY) {
    throw new GmCryptoError(
      "BAD_INPUT",
      `signatureMethod must be ${XMLDSIG_SM2_SM3} or ${XMLDSIG_SM2_SM3_LEGACY}`,
    );
  }
  signed.signatureAlgorithm = method;
  signed.canonicalizationAlgorithm = c14n;
  // xml-crypto insists on a private key argument; ours is in the algorithm's closure.
  signed.privateKey = "sm2-key-held-by-the-algorithm";
  signed.publicCert = options.certificate.toPem();
  signed.addReference({
    xpath: "/*",
    uri: "",
    isEmptyUri: true,
    transforms: [XMLDSIG_ENVELOPED, c14n],
    digestAlgorithm: XMLDSIG_SM3,
  });
  try {
    signed.computeSignature(xml, { prefix: "ds", location: { reference: "/*", action: "append" } });
  } catch (error) {
    if (error instanceof GmCryptoError) throw error;
    throw new GmCryptoError("BAD_XML", `cannot sign the document: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return signed.getSignedXml();
}

/** Where the one signature of a receipt is, and what it claims; throws BAD_XML when absent/ambiguous. */
function locateSignature(doc: Document): { signature: Element; certificate: Certificate } {
  const all = doc.getElementsByTagNameNS(XMLDSIG_NS, "Signature");
  if (all.length === 0) throw new GmCryptoError("BAD_XML", "the document holds no ds:Signature");
  if (all.length > 1)
    throw new GmCryptoError(
      "BAD_XML",
      `the document holds ${all.length} ds:Signature elements, expected one`,
    );
  const signature = all[0] as Element;
  // Enveloped over the whole document: the signature is a child of the document element, and its
  // only Reference (checked by verifyXml) is URI="" — no signature wrapping is possible.
  if (signature.parentNode !== doc.documentElement) {
    throw new GmCryptoError("BAD_XML", "ds:Signature must be a child of the document element");
  }
  const keyInfo = dsigChildren(signature, "KeyInfo")[0];
  const x509Data = keyInfo ? dsigChildren(keyInfo, "X509Data")[0] : undefined;
  const certElement = x509Data ? dsigChildren(x509Data, "X509Certificate")[0] : undefined;
  if (!certElement)
    throw new GmCryptoError("BAD_XML", "ds:Signature has no KeyInfo/X509Data/X509Certificate");
  const der = Buffer.from((certElement.textContent ?? "").replace(/\s+/g, ""), "base64");
  return { signature, certificate: CertificateClass.fromDer(der) };
}

function referenceUris(signature: Element): string[] {
  const signedInfo = dsigChildren(signature, "SignedInfo")[0];
  if (!signedInfo) return [];
  return dsigChildren(signedInfo, "Reference").map((ref) => ref.getAttribute("URI") ?? "(none)");
}

/**
 * Verifies the enveloped SM2/SM3 signature of `xml`. Throws BAD_XML for a document that is not
 * well-formed or holds no (or several) signatures, BAD_CERTIFICATE for an unreadable KeyInfo
 * certificate; answers `{ valid: false, reason }` for everything else that is wrong.
 */
export function verifyXml(xml: string, options: VerifyXmlOptions = {}): VerifyXmlResult {
  const doc = parseXml(xml);
  const { signature, certificate } = locateSignature(doc);
  const refused = (reason: string): VerifyXmlResult => ({ valid: false, reason, signer: certificate });

  const uris = referenceUris(signature);
  if (uris.length !== 1 || uris[0] !== "") {
    return refused(
      `the signature must have exactly one Reference, to the whole document (URI=""); it has ${uris.map((u) => JSON.stringify(u)).join(", ") || "none"}`,
    );
  }
  if (
    options.expectedCertificate &&
    options.expectedCertificate.fingerprintSm3() !== certificate.fingerprintSm3()
  ) {
    return refused(
      `signed with certificate ${certificate.fingerprintSm3()} (${certificate.subject.text}), not the expected ${options.expectedCertificate.fingerprintSm3()}`,
    );
  }
  if (options.trusted) {
    const chain = verifyChain(certificate, options.intermediates ?? [], options.trusted, options.at);
    if (!chain.ok) return refused(`the signer's certificate is not trusted: ${chain.reason}`);
  }
  if (!certificate.allows("digitalSignature")) {
    return refused("the signer's certificate does not allow digitalSignature");
  }

  const signed = signedXmlFor({ verifier: certificate.publicKey }, options.userId);
  // The key is the KeyInfo certificate we just read and checked, nothing else.
  signed.getCertFromKeyInfo = () => null;
  signed.publicCert = certificate.toPem();
  try {
    // As text: this document comes from xmldom 0.9, xml-crypto reads with its own 0.8.
    signed.loadSignature(new XMLSerializer().serializeToString(signature));
    if (signed.checkSignature(xml)) return { valid: true, signer: certificate };
  } catch (error) {
    const message = (error as Error).message;
    if (/algorithm .* is not supported/i.test(message)) {
      return refused(
        `algorithm not accepted (SM3 digests, SM2-SM3 signatures, C14N 1.0 / exclusive C14N 1.0 only): ${message}`,
      );
    }
    if (/invalid signature: the signature value .* is incorrect/i.test(message)) {
      return refused(
        "SignatureValue does not match the canonical SignedInfo, the signer's certificate and the user ID",
      );
    }
    return refused(`the signature cannot be checked: ${message}`);
  }
  const broken = signed.getReferences().find((ref) => ref.validationError);
  if (broken) {
    return refused(
      `the document was changed after it was signed (SM3 digest of the canonical document differs): ${broken.validationError?.message ?? ""}`,
    );
  }
  return refused(
    "SignatureValue does not match the canonical SignedInfo, the signer's certificate and the user ID",
  );
}
