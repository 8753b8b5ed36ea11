import { quoteIdent, withAdmin } from "./testing.ts";

/**
 * Cluster mode: makes sure a service's database exists on the server at `serverUrl` and
 * returns its URL. The server URL's own database is used only for that check. When missing it is
 * created (two processes racing to create it both succeed), unless `create` is false: a
 * production role owns its database and has no CREATEDB, so a missing one is a clear refusal.
 */
export async function ensureDatabase(
  serverUrl: string,
  name: string,
  options: { create?: boolean } = {},
): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${name}`);
  await withAdmin(serverUrl, async (admin) => {
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return;
    if (options.create === false) {
      const user = decodeURIComponent(new URL(serverUrl).username) || "the service's role";
      throw new Error(
        `database ${name} does not exist, and PIAOJU_DATABASE_CREATE=false: have it created with owner ${user} ` +
          `(k8s/base/postgres makes one per service)`,
      );
    }
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`).catch((error: { code?: string }) => {
      // duplicate_database, or the unique index of pg_database: another replica made it first.
      if (error.code !== "42P04" && error.code !== "23505") throw error;
    });
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
