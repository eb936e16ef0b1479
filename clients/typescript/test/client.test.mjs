// The TypeScript client against the real daemon. The pytest driver
// (tests/client/test_typescript_client.py) starts the daemon and a simulated card and passes:
// CARDSERVICE_URL, CARDSERVICE_TOKEN (admin), CARDSERVICE_READER (reader name), CARDSERVICE_CARD_CTL.
import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import {
  CardStateError, Client, InvalidRequest, NotFound, SeqTracker,
} from "../dist/index.js";

const { CARDSERVICE_URL: url, CARDSERVICE_TOKEN: token, CARDSERVICE_READER: readerName,
  CARDSERVICE_CARD_CTL: ctl } = process.env;
assert.ok(url && token && readerName && ctl, "run through tests/client/test_typescript_client.py");

const CITIZEN = { name: "孙七", gender: "male", nationality: "01",
  citizen_number: "110105199001011232", household_address: "北京市海淀区3号" };
const FAST = { attempts: 3, backoffMs: 50, maxBackoffMs: 200 };

function recorder() {
  const sent = [];
  return { sent, onRequest: (method, path, headers) => sent.push({ method, path, headers }) };
}

async function readerId(client) {
  const reader = (await client.readers()).find((r) => r.name === readerName);
  assert.ok(reader, `reader ${readerName} not listed`);
  return reader.id;
}

function control(command) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path: ctl }, () => sock.write(command + "\n"));
    let answer = "";
    sock.on("data", (d) => { answer += d; });
    sock.on("end", () => resolve(answer.trim()));
    sock.on("error", reject);
  });
}

test("health and readers are typed answers", async () => {
  const client = new Client(url, { token });
  const health = await client.health();
  assert.equal(health.status, "ok");
  assert.equal(typeof health.reader_count, "number");
  assert.ok((await client.readers()).some((r) => r.name === readerName && r.card_present));
});

test("issue, resign, renew: each write carries its own Idempotency-Key", async () => {
  const rec = recorder();
  const client = new Client(url, { token, retry: FAST, onRequest: rec.onRequest });
  const rid = await readerId(client);
  const blank = await client.readCard(rid);
  assert.equal(blank.state, "blank");
  const card = await client.issue(rid, { identity: CITIZEN, card_serial: blank.card_serial,
    residence: { current_residence: "示范县城关镇7号", permit_type: "temporary" } });
  assert.equal(card.verification.status, "valid");
  assert.equal(card.identity?.name, "孙七");
  const moved = await client.resign(rid, { current_residence: "示范县新区2号", card_serial: card.card_serial });
  assert.equal(moved.residence?.sequence, 2);
  const renewed = await client.renew(rid, { card_serial: card.card_serial });
  assert.equal(renewed.residence?.sequence, 3);
  assert.equal((await client.registryCard(card.card_serial)).last_sequence, 3);
  const keys = rec.sent.filter((r) => r.method === "POST").map((r) => r.headers["Idempotency-Key"]);
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 3);
});

test("a repeated key writes once", async () => {
  const client = new Client(url, { token });
  const rid = await readerId(client);
  const serial = (await client.readCard(rid)).card_serial;
  const body = { current_residence: "示范县东区4号", card_serial: serial };
  const first = await client.resign(rid, body, { idempotencyKey: "ts-move-1" });
  const again = await client.resign(rid, body, { idempotencyKey: "ts-move-1" });
  assert.deepEqual(again, first);
  assert.equal((await client.readCard(rid)).residence?.sequence, first.residence?.sequence);
});

test("errors by family; only retriable codes are retried, with one key", async () => {
  const rec = recorder();
  const client = new Client(url, { token, retry: FAST, onRequest: rec.onRequest });
  await assert.rejects(client.readCard("no-such-reader"), (e) =>
    e instanceof NotFound && e.code === "READER_NOT_FOUND" && !e.retriable && e.status === 404);
  const rid = await readerId(client);
  const serial = (await client.readCard(rid)).card_serial;
  await assert.rejects(client.resign(rid, { current_residence: "x", basis: 9, card_serial: serial }), (e) =>
    e instanceof InvalidRequest && e.code === "VALIDATION_ERROR" && e.field === "basis");
  await assert.rejects(client.resign(rid, { current_residence: "x", card_serial: "0000000000000001" }),
    (e) => e instanceof CardStateError && e.code === "CARD_CHANGED" && e.retriable);
  assert.equal(rec.sent.filter((r) => r.path === "/v1/readers/no-such-reader/card").length, 1);
  const resigns = rec.sent.filter((r) => r.path.endsWith("/resign"));
  assert.equal(resigns.length, 1 + 3);
  assert.equal(new Set(resigns.slice(1).map((r) => r.headers["Idempotency-Key"])).size, 1);
});

test("events: hello, then card_removed and card_inserted for the reader", async () => {
  const client = new Client(url, { token });
  const got = [];
  let wake = () => {};
  const sub = client.events((event) => { got.push(event); wake(); });
  const waitFor = async (predicate) => {
    const deadline = Date.now() + 15000;
    for (;;) {
      const hit = got.find(predicate);
      if (hit) return hit;
      assert.ok(Date.now() < deadline, "timed out waiting for an event");
      await new Promise((resolve) => { wake = resolve; setTimeout(resolve, 200); });
    }
  };
  try {
    const hello = await waitFor((e) => e.type === "hello");
    assert.equal(typeof hello.stream, "string");
    assert.match(await control("remove"), /^ok/);
    const removed = await waitFor((e) => e.type === "card_removed" && e.reader === readerName);
    assert.match(await control("insert"), /^ok/);
    const inserted = await waitFor((e) => e.type === "card_inserted" && e.reader === readerName);
    assert.ok(inserted.seq > removed.seq);
    assert.ok(!got.some((e) => e.type === "missed"));
  } finally {
    sub.close();
  }
});

test("seq tracker reports gaps, reconnects and restarts", () => {
  const t = new SeqTracker();
  assert.equal(t.see({ type: "hello", stream: "a", seq: 4 }), null);
  assert.equal(t.see({ type: "card_inserted", seq: 5 }), null);
  assert.deepEqual(t.see({ type: "card_removed", seq: 8 }), { type: "missed", count: 2, reason: "gap" });
  assert.deepEqual(t.see({ type: "hello", stream: "a", seq: 11 }),
    { type: "missed", count: 3, reason: "reconnected" });
  assert.deepEqual(t.see({ type: "hello", stream: "b", seq: 1 }),
    { type: "missed", count: null, reason: "restarted" });
});

test("pairing: the app shows a code, an admin approves it, the app gets its token", async () => {
  const admin = new Client(url, { token });
  const approve = async (code) => {
    const r = await fetch(`${url}/v1/pairing/approve`, { method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ code, role: "reader" }) });
    assert.equal(r.status, 200);
  };
  let approval;
  const paired = await Client.pair(url, "TS counter app", (code) => { approval = approve(code); },
    { pollEveryMs: 100 });
  await approval;
  assert.match(paired.token, /^cs_/);
  assert.ok((await paired.readers()).length > 0);
  assert.ok((await admin.health()).version);
});
