// Who is signed in (GET /api/me): the header shows it, and pages offer only what the token's
// roles allow (the server decides anyway; this spares a click that can only be refused).
import { createContext } from "preact";

export interface Me {
  name: string;
  roles: string[];
  session?: string; // signed in with a password: the session's id
  token?: string; // a person's own token: its name
  csrf?: string;
}

export const MeContext = createContext<Me | null>(null);

// Whether `rule` (roles and "user:NAME" entries, as in the pipeline file) names `me`; admins
// may do everything.
export function allowed(me: Me | null, rule: string[]): boolean {
  if (!me) return true; // not known yet: let the server answer
  if (me.roles.includes("admin")) return true;
  return rule.some((r) => (r.startsWith("user:") ? r.slice(5) === me.name : me.roles.includes(r)));
}

export const readOnly = (me: Me | null) => !!me && me.roles.every((r) => r === "viewer");
