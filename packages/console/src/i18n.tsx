import { createContext, useContext } from "react";

/** zh-CN first; English beside it. Every text is written in both, at the place it is shown. */
export type Lang = "zh" | "en";

export const LangContext = createContext<{ lang: Lang; setLang: (l: Lang) => void }>({
  lang: "zh",
  setLang: () => undefined,
});

export function initialLang(): Lang {
  const saved = localStorage.getItem("piaoju.lang");
  return saved === "en" ? "en" : "zh";
}

/** `const t = useT(); t("工作台", "Dashboard")`. */
export function useT(): (zh: string, en: string) => string {
  const { lang } = useContext(LangContext);
  return (zh, en) => (lang === "zh" ? zh : en);
}

export function useLang() {
  return useContext(LangContext);
}
