import { signCallback } from "@piaoju/business-client";
import { createTransport, type Transporter } from "nodemailer";

/**
 * The ways out. Each provider throws on failure with a message fit for the delivery's
 * `lastError` (never the payer's data), and resolves once the other side accepted.
 */
export interface Mail {
  to: string;
  subject: string;
  text: string;
  attachment: { filename: string; content: Buffer };
}

export interface MailSender {
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** E-mail over SMTP (PIAOJU_SMTP_URL, e.g. smtp://user:pass@mail.example:587). */
export function smtpMailer(url: string, from: string): MailSender {
  const transport: Transporter = createTransport(url);
  return {
    async send(mail) {
      await transport.sendMail({
        from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        attachments: [
          {
            filename: mail.attachment.filename,
            content: mail.attachment.content,
            contentType: "application/pdf",
          },
        ],
      });
    },
    close: () => transport.close(),
  };
}

/**
 * SMS through an SMS gateway's HTTP API (PIAOJU_SMS_URL): one JSON POST per message,
 *   { "to": "13800138000", "template": "RECEIPT_ISSUED", "params": { ... } }
 * with `Authorization: Bearer <PIAOJU_SMS_TOKEN>` when a token is set. Any 2xx is accepted.
 * Operators put a small adapter in front of their carrier's API when it speaks otherwise.
 */
export interface SmsSender {
  send(to: string, template: string, params: Record<string, string>): Promise<void>;
}

export function httpSmsGateway(url: string, token: string | undefined): SmsSender {
  return {
    async send(to, template, params) {
      const res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ to, template, params }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`SMS gateway answered ${res.status}`);
    },
  };
}

/** Pushes to a business system's webhook, signed (signCallback in @piaoju/business-client); 2xx means received. */
export async function pushWebhook(
  url: string,
  secret: string,
  deliveryId: string,
  body: Buffer,
  now: Date,
): Promise<void> {
  const timestamp = String(now.getTime());
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-piaoju-timestamp": timestamp,
      "x-piaoju-delivery": deliveryId,
      "x-piaoju-signature": signCallback(secret, timestamp, deliveryId, body),
    },
    body: new Uint8Array(body),
    signal: AbortSignal.timeout(10_000),
  });
  // Drain the body so the connection is reused; what the receiver says is not ours to keep.
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`webhook answered ${res.status}`);
}
