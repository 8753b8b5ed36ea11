import { readFileSync } from "node:fs";

/** A copy of shared/vectors/gm-vectors.json (published vectors), kept here so the package tests stand alone. */
export interface GmVectors {
  sm3: { message_utf8: string; digest_hex: string }[];
  sm4_ecb_no_padding: { key_hex: string; plaintext_hex: string; ciphertext_hex: string }[];
  sm2_signature: {
    user_id_utf8: string;
    private_key_hex: string;
    public_key_hex_uncompressed: string;
    message_utf8: string;
    za_hex: string;
    e_hex: string;
    r_hex: string;
    s_hex: string;
    k_hex?: string;
  }[];
  sm2_encryption: {
    private_key_hex: string;
    plaintext_utf8: string;
    ciphertext_asn1_hex: string;
    k_hex?: string;
    /** d·C1 = k·P_B, x‖y: the input of the KDF. */
    x2y2_hex?: string;
  }[];
}

export const vectors: GmVectors = JSON.parse(
  readFileSync(new URL("./gm-vectors.json", import.meta.url), "utf8"),
) as GmVectors;
