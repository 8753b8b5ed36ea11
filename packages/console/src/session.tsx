import type { Permission } from "@piaoju/access";
import { createContext, useContext } from "react";

export interface Me {
  id: string;
  username: string;
  displayName: string;
  agencyCode: string;
  issuingPoints: string[];
  permissions: Permission[];
  roles: Array<{ role: string; scope: string }>;
  administrator: boolean;
  totpEnabled: boolean;
  mustChangePassword: boolean;
}

export type Stage = "password" | "totp-enrol" | "full";

export interface SessionState {
  me: Me;
  /** The agency the pages work on: the person's own, or (a platform-wide account) the one chosen. */
  agency: string;
  setAgency: (code: string) => void;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState | undefined>(undefined);

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error("no session");
  return s;
}

export function useCan(): (p: Permission) => boolean {
  const { me } = useSession();
  return (p) => me.permissions.includes(p);
}
