import { quoteIdent, withAdmin } from "./testing.ts";

/**
 * Cluster mode: makes sure a service's database exists on the server at `serverUrl`
 * (CREATE DATABASE when missing; two processes racing to create it both succeed) and
 * returns its URL. The server URL's own database is used only for that check.
 */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${name}`);
  await withAdmin(serverUrl, async (admin) => {
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return;
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`).catch((error: { code?: string }) => {
      // duplicate_database, or the unique index of pg_database: another replica made it first.
      if (error.code !== "42P04" && error.code !== "23505") throw error;
    });
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
