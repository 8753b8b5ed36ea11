import { ModalForm, ProCard, ProFormText } from "@ant-design/pro-components";
import { App, Button, Checkbox, Input, Modal, Select, Space, Switch, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { api } from "../api.ts";
import { useList } from "../data.ts";
import { useT } from "../i18n.tsx";
import { useCan, useSession } from "../session.tsx";
import { useShowError } from "../ui.tsx";

interface User {
  id: string;
  username: string;
  displayName: string;
  agencyCode: string;
  issuingPoints: string[];
  enabled: boolean;
  locked: boolean;
  mustChangePassword: boolean;
  totpEnabled: boolean;
  roles: Array<{ role: string; scope: string }>;
}
interface Role {
  name: string;
  title: string;
  permissions: string[];
  dataScope: string;
  administrator: boolean;
  builtIn?: boolean;
}

const SCOPES = (t: (zh: string, en: string) => string) => [
  { value: "agency", label: t("全单位", "the whole agency") },
  { value: "points", label: t("所属开票点", "their issuing points") },
  { value: "own", label: t("仅本人开具", "their own receipts") },
];

/** 用户管理 (system administrator) and 功能授权 / 数据权限 (security administrator), 三员分立. */
export function Users() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const { me, agency } = useSession();
  const [users, reload] = useList<User>("/api/console/users", "console");
  const [roles] = useList<Role>("/api/console/roles", "console");
  const [granting, setGranting] = useState<User>();
  const [grant, setGrant] = useState<{ roles: string[]; scope?: string; points: string }>({
    roles: [],
    points: "",
  });
  const act = async (path: string, body: unknown = {}) => {
    try {
      const out = await api<{ oneTimePassword?: string }>("POST", path, body);
      if (out.oneTimePassword) oneTimePassword(out.oneTimePassword);
      reload();
    } catch (e) {
      showError(e);
    }
  };
  const { modal } = App.useApp();
  const oneTimePassword = (otp: string) =>
    modal.info({
      title: t("一次性密码（仅显示这一次）", "One-time password (shown only now)"),
      content: (
        <Typography.Text code copyable id="one-time-password">
          {otp}
        </Typography.Text>
      ),
    });
  return (
    <ProCard
      title={t("用户管理", "Users")}
      extra={
        can("user.manage") && (
          <ModalForm<{ username: string; displayName: string; issuingPoints?: string }>
            title={t("新建用户", "New user")}
            trigger={
              <Button type="primary" id="user-new">
                {t("新建用户", "New user")}
              </Button>
            }
            submitter={{ submitButtonProps: { id: "user-create" } }}
            modalProps={{ destroyOnHidden: true }}
            onFinish={async (v) => {
              try {
                const out = await api<{ oneTimePassword: string }>("POST", "/api/console/users", {
                  username: v.username,
                  displayName: v.displayName,
                  agencyCode: agency,
                  issuingPoints: (v.issuingPoints ?? "").split(/[,\s，]+/).filter(Boolean),
                });
                reload();
                oneTimePassword(out.oneTimePassword);
                return true;
              } catch (e) {
                showError(e);
                return false;
              }
            }}
          >
            <ProFormText
              name="username"
              label={t("用户名", "User name")}
              rules={[{ required: true }]}
              fieldProps={{ id: "new-username" }}
            />
            <ProFormText
              name="displayName"
              label={t("姓名", "Name")}
              rules={[{ required: true }]}
              fieldProps={{ id: "new-display-name" }}
            />
            <ProFormText
              name="issuingPoints"
              label={t("所属开票点（逗号分隔，可空）", "Issuing points (comma-separated, optional)")}
              fieldProps={{ id: "new-points" }}
            />
            <Typography.Text type="secondary">
              {t(
                "新用户没有角色：由安全管理员授权。机构：",
                "New users have no role until a security administrator grants one. Agency: ",
              )}
              {agency}
            </Typography.Text>
          </ModalForm>
        )
      }
    >
      <Table<User>
        id="users"
        size="small"
        rowKey="id"
        dataSource={users}
        columns={[
          { title: t("用户名", "User"), dataIndex: "username" },
          { title: t("姓名", "Name"), dataIndex: "displayName" },
          { title: t("机构", "Agency"), dataIndex: "agencyCode" },
          {
            title: t("角色（数据权限）", "Roles (scope)"),
            render: (_, u) =>
              u.roles.map((r) => (
                <Tag key={r.role}>
                  {roles.find((x) => x.name === r.role)?.title ?? r.role} ·{" "}
                  {SCOPES(t).find((s) => s.value === r.scope)?.label}
                </Tag>
              )),
          },
          { title: t("开票点", "Points"), dataIndex: "issuingPoints", render: (p: string[]) => p.join(", ") },
          {
            title: t("状态", "State"),
            render: (_, u) => (
              <Space size={2}>
                {u.enabled ? (
                  <Tag color="success">{t("启用", "enabled")}</Tag>
                ) : (
                  <Tag>{t("停用", "disabled")}</Tag>
                )}
                {u.locked && <Tag color="error">{t("已锁定", "locked")}</Tag>}
                {u.mustChangePassword && <Tag color="warning">{t("待改密", "must change password")}</Tag>}
                {u.totpEnabled && <Tag color="blue">TOTP</Tag>}
              </Space>
            ),
          },
          {
            title: t("操作", "Actions"),
            render: (_, u) => (
              <Space size={4} wrap>
                {can("role.manage") && (
                  <Button
                    size="small"
                    className="user-grant"
                    onClick={() => {
                      setGranting(u);
                      setGrant({
                        roles: u.roles.map((r) => r.role),
                        scope: undefined,
                        points: u.issuingPoints.join(","),
                      });
                    }}
                  >
                    {t("授权", "Grant")}
                  </Button>
                )}
                {can("user.manage") && u.id !== me.id && (
                  <>
                    <Button
                      size="small"
                      onClick={() =>
                        void act(`/api/console/users/${u.id}/${u.enabled ? "disable" : "enable"}`)
                      }
                    >
                      {u.enabled ? t("停用", "Disable") : t("启用", "Enable")}
                    </Button>
                    <Button
                      size="small"
                      onClick={() => void act(`/api/console/users/${u.id}/reset-password`)}
                    >
                      {t("重置密码", "Reset password")}
                    </Button>
                    <Button
                      size="small"
                      onClick={() => void act(`/api/console/users/${u.id}/revoke-sessions`)}
                    >
                      {t("强制下线", "End sessions")}
                    </Button>
                  </>
                )}
              </Space>
            ),
          },
        ]}
      />
      <Modal
        open={granting !== undefined}
        title={`${t("功能授权与数据权限", "Roles and data scope")}: ${granting?.username ?? ""}`}
        okButtonProps={{ id: "grant-save" }}
        onCancel={() => setGranting(undefined)}
        onOk={async () => {
          if (!granting) return;
          try {
            await api("PUT", `/api/console/users/${granting.id}/grants`, {
              grants: grant.roles.map((role) => ({ role, ...(grant.scope ? { scope: grant.scope } : {}) })),
              issuingPoints: grant.points.split(/[,\s，]+/).filter(Boolean),
            });
            setGranting(undefined);
            reload();
          } catch (e) {
            showError(e);
          }
        }}
      >
        <Space direction="vertical" style={{ width: "100%" }}>
          <Typography.Text>{t("角色", "Roles")}</Typography.Text>
          <Select
            id="grant-roles"
            mode="multiple"
            style={{ width: "100%" }}
            value={grant.roles}
            onChange={(v) => setGrant({ ...grant, roles: v })}
            options={roles.map((r) => ({ value: r.name, label: `${r.title} (${r.name})` }))}
          />
          <Typography.Text>
            {t("数据权限（空：按角色默认）", "Data scope (empty: the role's own)")}
          </Typography.Text>
          <Select
            id="grant-scope"
            allowClear
            style={{ width: "100%" }}
            value={grant.scope}
            onChange={(v) => setGrant({ ...grant, scope: v })}
            options={SCOPES(t)}
          />
          <Typography.Text>{t("所属开票点（逗号分隔）", "Issuing points (comma-separated)")}</Typography.Text>
          <Input
            id="grant-points"
            value={grant.points}
            onChange={(e) => setGrant({ ...grant, points: e.target.value })}
          />
        </Space>
      </Modal>
    </ProCard>
  );
}

/** 角色管理: the built-in roles and the bureau's own, with their permissions (功能授权). */
export function Roles() {
  const showError = useShowError();
  const t = useT();
  const can = useCan();
  const [roles, reload] = useList<Role>("/api/console/roles", "console");
  const [permissions] = useList<{ name: string; title: string }>("/api/console/permissions", "console");
  const [editing, setEditing] = useState<Role>();
  return (
    <ProCard
      title={t("角色管理", "Roles")}
      extra={
        can("role.manage") && (
          <Button
            onClick={() =>
              setEditing({ name: "", title: "", permissions: [], dataScope: "agency", administrator: false })
            }
            id="role-new"
          >
            {t("新建角色", "New role")}
          </Button>
        )
      }
    >
      <Table<Role>
        id="roles"
        size="small"
        rowKey="name"
        dataSource={roles}
        columns={[
          { title: t("角色", "Role"), dataIndex: "title" },
          { title: t("标识", "Name"), dataIndex: "name" },
          {
            title: t("默认数据权限", "Scope"),
            dataIndex: "dataScope",
            render: (s: string) => SCOPES(t).find((x) => x.value === s)?.label,
          },
          {
            title: t("管理员（需动态口令）", "Administrator (TOTP)"),
            dataIndex: "administrator",
            render: (v: boolean) => (v ? "✔" : ""),
          },
          {
            title: t("权限", "Permissions"),
            dataIndex: "permissions",
            render: (p: string[]) => p.map((x) => <Tag key={x}>{x}</Tag>),
          },
          {
            title: "",
            render: (_, r) =>
              can("role.manage") && (
                <Button size="small" onClick={() => setEditing(r)}>
                  {t("编辑", "Edit")}
                </Button>
              ),
          },
        ]}
      />
      <Modal
        open={editing !== undefined}
        width={720}
        title={t("角色", "Role")}
        onCancel={() => setEditing(undefined)}
        onOk={async () => {
          if (!editing) return;
          try {
            await api("PUT", `/api/console/roles/${editing.name}`, {
              title: editing.title,
              permissions: editing.permissions,
              dataScope: editing.dataScope,
              administrator: editing.administrator,
            });
            setEditing(undefined);
            reload();
          } catch (e) {
            showError(e);
          }
        }}
      >
        {editing && (
          <Space direction="vertical" style={{ width: "100%" }}>
            <Input
              addonBefore={t("标识", "Name")}
              value={editing.name}
              onChange={(e) => setEditing({ ...editing, name: e.target.value })}
            />
            <Input
              addonBefore={t("名称", "Title")}
              value={editing.title}
              onChange={(e) => setEditing({ ...editing, title: e.target.value })}
            />
            <Select
              value={editing.dataScope}
              options={SCOPES(t)}
              onChange={(v) => setEditing({ ...editing, dataScope: v })}
              style={{ width: 240 }}
            />
            <Space>
              <Switch
                checked={editing.administrator}
                onChange={(v) => setEditing({ ...editing, administrator: v })}
              />
              {t("管理员角色（登录须动态口令）", "Administrator role (TOTP at sign-in)")}
            </Space>
            <Checkbox.Group
              value={editing.permissions}
              onChange={(v) => setEditing({ ...editing, permissions: v as string[] })}
              options={permissions.map((p) => ({ value: p.name, label: `${p.name} — ${p.title}` }))}
              style={{ display: "grid", gridTemplateColumns: "1fr 1fr" }}
            />
          </Space>
        )}
      </Modal>
    </ProCard>
  );
}

/** 会话管理: who is signed in, from where, since when. */
export function Sessions() {
  const t = useT();
  const [sessions, reload] = useList<Record<string, string>>("/api/console/sessions", "console");
  return (
    <ProCard
      title={t("会话管理", "Sessions")}
      extra={<Button onClick={reload}>{t("刷新", "Refresh")}</Button>}
    >
      <Table
        id="sessions"
        size="small"
        rowKey={(r) => `${r.userId}/${r.createdAt}`}
        dataSource={sessions}
        columns={[
          { title: t("用户", "User"), dataIndex: "username" },
          { title: t("姓名", "Name"), dataIndex: "displayName" },
          { title: t("地址", "Address"), dataIndex: "address" },
          {
            title: t("登录时间", "Since"),
            dataIndex: "createdAt",
            render: (v: string) => new Date(v).toLocaleString(),
          },
          {
            title: t("最近活动", "Last seen"),
            dataIndex: "lastSeenAt",
            render: (v: string) => new Date(v).toLocaleString(),
          },
          {
            title: t("到期", "Expires"),
            dataIndex: "expiresAt",
            render: (v: string) => new Date(v).toLocaleString(),
          },
          { title: t("浏览器", "Browser"), dataIndex: "userAgent", ellipsis: true },
        ]}
      />
    </ProCard>
  );
}
