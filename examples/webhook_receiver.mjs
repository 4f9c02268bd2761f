// A dsync webhook receiver for Node.js (>= 18), no dependencies: verifies the Standard
// Webhooks headers (webhook-id, webhook-timestamp, webhook-signature) with node:crypto.
//
//   WEBHOOK_SECRET=... node examples/webhook_receiver.mjs --port 9000
//
// Register http://HOST:9000/ as the tenant's webhook with the same secret. Each verified
// event is printed as one JSON line {"id", "type", "tenantid", "sequence"}; a request whose
// signature does not verify gets 400. Duplicates (same webhook-id = event id) are
// acknowledged without printing. --max-events N stops after N new events (used by the test).
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) =>
    arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs, []));
const secret = args.secret ?? process.env.WEBHOOK_SECRET ?? "";
const port = Number(args.port ?? 9000);
const host = args.host ?? "127.0.0.1";
const maxEvents = args["max-events"] ? Number(args["max-events"]) : Infinity;
const TOLERANCE_S = 300;
if (!secret) {
  console.error("--secret or WEBHOOK_SECRET is required");
  process.exit(2);
}

/** True when one v1 signature of the headers signs `${id}.${timestamp}.${body}`. */
export function verify(headers, body, key, nowS = Date.now() / 1000) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowS - Number(timestamp)) > TOLERANCE_S) return false;
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
  return signatures.split(" ").some((versioned) => {
    const [version, signature] = versioned.split(",");
    if (version !== "v1" || !signature) return false;
    const given = Buffer.from(signature, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const key = Buffer.from(secret, "utf8"); // the HMAC key: the secret's UTF-8 bytes, as registered
const seen = new Set();
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks); // verify the raw bytes before parsing
    if (req.method !== "POST" || !verify(req.headers, body, key)) {
      res.writeHead(400).end();
      return;
    }
    const event = JSON.parse(body.toString("utf8"));
    if (!seen.has(event.id)) {
      seen.add(event.id);
      const { id, type, tenantid, sequence } = event;
      process.stdout.write(JSON.stringify({ id, type, tenantid, sequence }) + "\n");
    }
    res.writeHead(204).end();
    if (seen.size >= maxEvents) server.close();
  });
});
server.listen(port, host, () => console.error(`listening on http://${host}:${port}/`));
