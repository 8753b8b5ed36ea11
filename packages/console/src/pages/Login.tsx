import { LockOutlined, SafetyOutlined, UserOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Form, Input, QRCode, Select, Space, Typography } from "antd";
import { useEffect, useState } from "react";
import { ApiError, api } from "../api.ts";
import { useLang, useT } from "../i18n.tsx";
import type { Stage } from "../session.tsx";
import { problemText } from "../ui.tsx";

/**
 * 登录: name and password (and the authenticator's code when the account has one); then, as the
 * gateway asks, the one-time password changed and, for administrators, an authenticator set up.
 */
export function Login(props: { stage?: Stage; onDone: () => void }) {
  const t = useT();
  const { lang, setLang } = useLang();
  const [stage, setStage] = useState<Stage | "login">(props.stage ?? "login");
  const [needTotp, setNeedTotp] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [usedPassword, setUsedPassword] = useState("");
  const [enrolment, setEnrolment] = useState<{ secret: string; uri: string }>();

  const run = async (step: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await step();
    } catch (e) {
      if (e instanceof ApiError && e.code === "TOTP_REQUIRED") setNeedTotp(true);
      setError(problemText(e, lang));
    } finally {
      setBusy(false);
    }
  };
  const after = (next: Stage) => {
    if (next === "full") props.onDone();
    else setStage(next);
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: run is remade each render; the enrolment happens once per stage
  useEffect(() => {
    if (stage !== "totp-enrol" || enrolment) return;
    void run(async () => setEnrolment(await api("POST", "/api/console/totp/enroll", {})));
  }, [stage, enrolment]);

  return (
    <div className="login-page">
      <Card style={{ width: 400 }} className="login-card">
        <Space direction="vertical" style={{ width: "100%" }} size="middle">
          <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center" }}>
            <Typography.Title level={3} style={{ margin: 0 }}>
              {t("票据 · 管理端", "Piaoju console")}
            </Typography.Title>
            <Select
              size="small"
              value={lang}
              onChange={setLang}
              options={[
                { value: "zh", label: "中文" },
                { value: "en", label: "English" },
              ]}
            />
          </div>
          <Typography.Text type="secondary">
            {t("财政电子票据管理平台", "Fiscal e-receipt platform")}
          </Typography.Text>
          {error && <Alert type="error" showIcon message={error} id="login-error" />}
          {stage === "login" && (
            <Form
              layout="vertical"
              onFinish={(v: { username: string; password: string; totp?: string }) =>
                run(async () => {
                  const out = await api<{ stage: Stage }>("POST", "/api/console/login", {
                    username: v.username,
                    password: v.password,
                    ...(v.totp ? { totp: v.totp } : {}),
                  });
                  setUsedPassword(v.password);
                  after(out.stage);
                })
              }
            >
              <Form.Item name="username" label={t("用户名", "User name")} rules={[{ required: true }]}>
                <Input id="username" prefix={<UserOutlined />} autoFocus autoComplete="username" />
              </Form.Item>
              <Form.Item name="password" label={t("密码", "Password")} rules={[{ required: true }]}>
                <Input.Password id="password" prefix={<LockOutlined />} autoComplete="current-password" />
              </Form.Item>
              {needTotp && (
                <Form.Item name="totp" label={t("动态口令（6 位）", "Authenticator code (6 digits)")}>
                  <Input id="totp" prefix={<SafetyOutlined />} autoComplete="one-time-code" maxLength={6} />
                </Form.Item>
              )}
              <Button type="primary" htmlType="submit" block loading={busy} id="login-submit">
                {t("登录", "Sign in")}
              </Button>
            </Form>
          )}
          {stage === "password" && (
            <Form
              layout="vertical"
              onFinish={(v: { newPassword: string }) =>
                run(async () => {
                  await api("POST", "/api/console/password", {
                    currentPassword: usedPassword,
                    newPassword: v.newPassword,
                  });
                  const me = await api<{ stage: Stage }>("GET", "/api/console/me");
                  after(me.stage);
                })
              }
            >
              <Alert
                type="info"
                showIcon
                message={t(
                  "首次登录：请设置新密码（至少 12 位，含大写、小写、数字、符号中的三类，不含用户名）。",
                  "First sign-in: choose a new password (at least 12 characters of three kinds: upper case, lower case, digits, symbols; not your name).",
                )}
                style={{ marginBottom: 16 }}
              />
              {!usedPassword && (
                <Form.Item label={t("当前密码", "Current password")} required>
                  <Input.Password id="current-password" onChange={(e) => setUsedPassword(e.target.value)} />
                </Form.Item>
              )}
              <Form.Item name="newPassword" label={t("新密码", "New password")} rules={[{ required: true }]}>
                <Input.Password id="new-password" autoComplete="new-password" autoFocus />
              </Form.Item>
              <Form.Item
                name="confirm"
                label={t("确认新密码", "Repeat it")}
                dependencies={["newPassword"]}
                rules={[
                  { required: true },
                  ({ getFieldValue }) => ({
                    validator: (_, value) =>
                      value === getFieldValue("newPassword")
                        ? Promise.resolve()
                        : Promise.reject(new Error(t("两次输入不一致", "The two do not match"))),
                  }),
                ]}
              >
                <Input.Password id="confirm-password" autoComplete="new-password" />
              </Form.Item>
              <Button type="primary" htmlType="submit" block loading={busy} id="password-submit">
                {t("修改密码", "Change password")}
              </Button>
            </Form>
          )}
          {stage === "totp-enrol" && (
            <Form
              layout="vertical"
              onFinish={(v: { code: string }) =>
                run(async () => {
                  await api("POST", "/api/console/totp/confirm", { code: v.code });
                  after("full");
                })
              }
            >
              <Alert
                type="info"
                showIcon
                message={t(
                  "管理员账号须绑定动态口令：用身份验证器扫描二维码（或手动输入密钥），再输入它显示的 6 位数字。",
                  "Administrator accounts need an authenticator: scan the code with it (or type the key), then enter the 6 digits it shows.",
                )}
                style={{ marginBottom: 16 }}
              />
              {enrolment && (
                <>
                  <Form.Item label={t("扫码添加", "Scan to add")}>
                    {/* Drawn in the browser from the otpauth URI: the key goes to no other server. */}
                    <QRCode id="totp-qr" value={enrolment.uri} size={168} bordered={false} />
                  </Form.Item>
                  <Form.Item label={t("或手动输入密钥", "Or type the key")}>
                    <Typography.Text code copyable id="totp-secret">
                      {enrolment.secret}
                    </Typography.Text>
                  </Form.Item>
                  <Form.Item label="URI">
                    <Typography.Text
                      type="secondary"
                      style={{ fontSize: 12, wordBreak: "break-all" }}
                      copyable
                    >
                      {enrolment.uri}
                    </Typography.Text>
                  </Form.Item>
                </>
              )}
              <Form.Item name="code" label={t("动态口令", "Code")} rules={[{ required: true, len: 6 }]}>
                <Input id="totp-code" maxLength={6} autoComplete="one-time-code" autoFocus />
              </Form.Item>
              <Button type="primary" htmlType="submit" block loading={busy} id="totp-submit">
                {t("绑定并进入", "Set up and continue")}
              </Button>
            </Form>
          )}
        </Space>
      </Card>
    </div>
  );
}
