/**
 * A provider's error may quote the address it refused (an SMTP 550 names the mailbox); the
 * error is stored and logged, so e-mail addresses and phone numbers are blanked out first.
 */
export function withoutContacts(message: string): string {
  return message
    .replace(/[^\s<>"'@,;:]+@[^\s<>"'@,;:]+/g, "<e-mail>")
    .replace(/(?<!\d)(?:\+?86[- ]?)?1\d{2}[- ]?\d{4}[- ]?\d{4}(?!\d)/g, "<phone>");
}
