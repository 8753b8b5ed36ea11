import { ProLayout } from "@ant-design/pro-components";
import { App as AntApp, ConfigProvider, Dropdown, Input, Result, Select, Spin } from "antd";
import enUS from "antd/es/locale/en_US";
import zhCN from "antd/es/locale/zh_CN";
import dayjs from "dayjs";
import "dayjs/locale/zh-cn";
import { type ReactNode, StrictMode, useCallback, useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { ApiError, api } from "./api.ts";
import { initialLang, type Lang, LangContext, useLang, useT } from "./i18n.tsx";
import { SECTIONS, visiblePages } from "./menu.tsx";
import { Audit } from "./pages/Audit.tsx";
import { BaseData } from "./pages/BaseData.tsx";
import {
  ClearingPage,
  DifferencesWorkList,
  FundsArrivalPage,
  UnifiedStatementPage,
} from "./pages/Clearing.tsx";
import { Dashboard } from "./pages/Dashboard.tsx";
import { DeliveryPage } from "./pages/Delivery.tsx";
import { Finance } from "./pages/Finance.tsx";
import { FinanceExchange } from "./pages/FinanceExchange.tsx";
import { Issue } from "./pages/Issue.tsx";
import { Login } from "./pages/Login.tsx";
import { ChannelReconciliations, Payments, Refunds } from "./pages/Payments.tsx";
import { ReceiptDetail } from "./pages/ReceiptDetail.tsx";
import { Receipts } from "./pages/Receipts.tsx";
import { Reports } from "./pages/Reports.tsx";
import { Applications, Ledger, Segments } from "./pages/Stock.tsx";
import { Distributions, Removals, WriteOffs } from "./pages/StockOps.tsx";
import { Roles, Sessions, Users } from "./pages/System.tsx";
import { FrequentPayers, ItemGroups } from "./pages/WindowData.tsx";
import { type Me, SessionContext, type Stage, useSession } from "./session.tsx";
import "./style.css";

const PAGES: Record<string, () => ReactNode> = {
  "/dashboard": () => <Dashboard />,
  "/receipts/issue": () => <Issue />,
  "/receipts/search": () => <Receipts />,
  "/receipts/frequent-payers": () => <FrequentPayers />,
  "/receipts/:id": () => <ReceiptDetail />,
  "/stock/applications": () => <Applications />,
  "/stock/segments": () => <Segments />,
  "/stock/ledger": () => <Ledger />,
  "/stock/distributions": () => <Distributions />,
  "/stock/removals": () => <Removals />,
  "/stock/write-offs": () => <WriteOffs />,
  "/delivery": () => <DeliveryPage />,
  "/finance": () => <Finance />,
  "/finance/exchange": () => <FinanceExchange />,
  "/payments/list": () => <Payments />,
  "/payments/refunds": () => <Refunds />,
  "/payments/reconciliations": () => <ChannelReconciliations />,
  "/payments/statements": () => <UnifiedStatementPage />,
  "/payments/differences": () => <DifferencesWorkList />,
  "/payments/funds": () => <FundsArrivalPage />,
  "/payments/clearing": () => <ClearingPage />,
  "/base": () => <BaseData />,
  "/base/item-groups": () => <ItemGroups />,
  "/reports": () => <Reports />,
  "/system/users": () => <Users />,
  "/system/roles": () => <Roles />,
  "/system/sessions": () => <Sessions />,
  "/system/audit": () => <Audit />,
};

function Shell() {
  const t = useT();
  const { me, agency, setAgency, signOut } = useSession();
  const location = useLocation();
  const pages = visiblePages(me.permissions);
  const route = useMemo(
    () => ({
      path: "/",
      routes: SECTIONS.map((s) => ({
        path: `/${s.key}`,
        key: s.key,
        name: t(s.zh, s.en),
        icon: s.icon,
        routes: s.pages
          .filter((p) => !p.hidden && pages.includes(p))
          .map((p) => ({ path: p.path, key: p.path, name: t(p.zh, p.en) })),
      })).filter((s) => s.routes.length > 0),
    }),
    [pages, t],
  );
  const home = pages.find((p) => !p.hidden)?.path;
  return (
    <ProLayout
      title={t("票据管理端", "Piaoju console")}
      logo={false}
      layout="mix"
      route={route}
      location={{ pathname: location.pathname }}
      menu={{ defaultOpenAll: true, type: "group" }}
      menuItemRender={(item, dom) => (item.path ? <Link to={item.path}>{dom}</Link> : dom)}
      actionsRender={() => [
        me.agencyCode === "*" ? (
          <Input
            key="agency"
            size="small"
            style={{ width: 150 }}
            addonBefore={t("机构", "Agency")}
            defaultValue={agency}
            id="agency-code"
            onBlur={(e) => setAgency(e.target.value.trim())}
          />
        ) : (
          <span key="agency">
            {t("机构", "Agency")} {me.agencyCode}
          </span>
        ),
        <LangSwitch key="lang" />,
      ]}
      avatarProps={{
        title: `${me.displayName} (${me.username})`,
        size: "small",
        render: (_p, dom) => (
          <Dropdown
            menu={{
              items: [{ key: "logout", label: t("退出登录", "Sign out"), onClick: () => void signOut() }],
            }}
          >
            <span id="user-menu">{dom}</span>
          </Dropdown>
        ),
      }}
    >
      <Routes>
        {pages.map((p) => (
          <Route key={p.path} path={p.path} element={PAGES[p.path]?.()} />
        ))}
        <Route
          path="*"
          element={
            home && (location.pathname === "/" || location.pathname === "") ? (
              <Navigate to={home} replace />
            ) : (
              <Result
                status="403"
                title={t("无权访问", "Not yours to see")}
                subTitle={t("此页面不在你的权限内。", "This page is outside your permissions.")}
                extra={home ? <Link to={home}>{t("返回", "Back")}</Link> : null}
              />
            )
          }
        />
      </Routes>
    </ProLayout>
  );
}

function LangSwitch() {
  const { lang, setLang } = useLang();
  return (
    <Select
      size="small"
      value={lang}
      onChange={setLang}
      id="lang"
      options={[
        { value: "zh", label: "中文" },
        { value: "en", label: "English" },
      ]}
    />
  );
}

function Root() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [state, setState] = useState<{ me?: Me; stage?: Stage; loading: boolean }>({ loading: true });
  const [agency, setAgencyState] = useState<string>(() => localStorage.getItem("piaoju.agency") ?? "");
  const setLang = (l: Lang) => {
    localStorage.setItem("piaoju.lang", l);
    dayjs.locale(l === "zh" ? "zh-cn" : "en");
    setLangState(l);
  };
  useEffect(() => {
    dayjs.locale(lang === "zh" ? "zh-cn" : "en");
  }, [lang]);
  const refresh = useCallback(async () => {
    try {
      const out = await api<{ user: Me; stage: Stage }>("GET", "/api/console/me");
      setState({ me: out.user, stage: out.stage, loading: false });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setState({ loading: false });
      else throw e;
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  const signOut = async () => {
    await api("POST", "/api/console/logout", {}).catch(() => undefined);
    setState({ loading: false });
  };
  const setAgency = (code: string) => {
    localStorage.setItem("piaoju.agency", code);
    setAgencyState(code);
  };
  let body: ReactNode;
  if (state.loading) body = <Spin style={{ margin: 80 }} />;
  else if (!state.me || state.stage !== "full")
    body = <Login stage={state.me ? state.stage : undefined} onDone={() => void refresh()} />;
  else
    body = (
      <SessionContext.Provider
        value={{
          me: state.me,
          agency: state.me.agencyCode === "*" ? agency : state.me.agencyCode,
          setAgency,
          refresh,
          signOut,
        }}
      >
        <Shell />
      </SessionContext.Provider>
    );
  return (
    <LangContext.Provider value={{ lang, setLang }}>
      <ConfigProvider locale={lang === "zh" ? zhCN : enUS} theme={{ token: { colorPrimary: "#c0392b" } }}>
        <AntApp>
          <BrowserRouter basename="/admin">{body}</BrowserRouter>
        </AntApp>
      </ConfigProvider>
    </LangContext.Provider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
