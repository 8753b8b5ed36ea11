import { App } from "antd";
import { useCallback } from "react";
import { ApiError } from "./api.ts";
import { type Lang, useLang } from "./i18n.tsx";

/** A refusal as the person reads it: the gateway's Chinese text in zh, its English in en, with the fields named. */
export function problemText(e: unknown, lang: Lang): string {
  if (e instanceof ApiError) {
    const head = (lang === "zh" ? e.messageZh : undefined) ?? e.message;
    const fields = e.issues
      .map((i) => `${i.field}: ${(lang === "zh" ? i.messageZh : undefined) ?? i.message}`)
      .join("; ");
    return fields ? `${head} (${fields})` : head;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Shows a refusal as a message (antd's App context: static messages do not render under React 19). */
export function useShowError(): (e: unknown) => void {
  const { message } = App.useApp();
  const { lang } = useLang();
  return useCallback(
    (e: unknown) =>
      void message.error({ content: problemText(e, lang), className: "piaoju-error", duration: 6 }),
    [message, lang],
  );
}

export const STATUS_COLOURS: Record<string, string> = {
  REQUESTED: "default",
  AGENCY_SIGNED: "processing",
  ISSUED: "success",
  RED_FLUSHED: "error",
  PAPER_EXCHANGED: "warning",
  BOOKED: "cyan",
  VOIDED: "default",
};

export const STATUS_NAMES: Record<string, [string, string]> = {
  REQUESTED: ["待签名", "awaiting signature"],
  AGENCY_SIGNED: ["待监制", "awaiting supervision"],
  ISSUED: ["已开具", "issued"],
  RED_FLUSHED: ["已冲红", "red-flushed"],
  PAPER_EXCHANGED: ["已换开", "exchanged for paper"],
  BOOKED: ["已入账", "booked"],
  VOIDED: ["已作废", "voided"],
};
