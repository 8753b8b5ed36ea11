import { randomInt } from "node:crypto";

/** The password policy (等保三级: length and character classes; not the user name; changed on first use). */
export const PASSWORD_MIN_LENGTH = 12;

export function passwordProblems(password: string, username: string): string[] {
  const problems: string[] = [];
  if (password.length < PASSWORD_MIN_LENGTH) problems.push(`at least ${PASSWORD_MIN_LENGTH} characters`);
  if (password.length > 128) problems.push("at most 128 characters");
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((c) => c.test(password)).length;
  if (classes < 3) problems.push("at least three of: lower-case, upper-case, digits, other characters");
  if (username.length >= 3 && password.toLowerCase().includes(username.toLowerCase()))
    problems.push("must not contain the user name");
  if (/(.)\1{3,}/.test(password)) problems.push("no character four times in a row");
  return problems;
}

const ALPHABETS = ["abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "-_.!@#%+="];

/** A one-time password that meets the policy: shown once, to be changed at first login. */
export function oneTimePassword(length = 18): string {
  const all = ALPHABETS.join("");
  const chars = ALPHABETS.map((a) => a[randomInt(a.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  const candidate = chars.join("");
  return /(.)\1{3,}/.test(candidate) ? oneTimePassword(length) : candidate;
}

/**
 * Back-off after failed logins: the first four cost nothing; from the fifth the account is locked,
 * for 1, 2, 4 … minutes, at most an hour.
 */
export function lockoutAfter(failedLogins: number, now: Date): Date | undefined {
  if (failedLogins < 5) return undefined;
  const minutes = Math.min(60, 2 ** (failedLogins - 5));
  return new Date(now.getTime() + minutes * 60_000);
}
