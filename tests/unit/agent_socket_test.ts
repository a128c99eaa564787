/** serveSocket(): errors name the path, a live socket is never taken over, close() removes only its own. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { serveSocket, SocketListenError } from "../../agent/socket_api.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { startSymlinkSwapper } from "../helpers/symlink_swapper.ts";

const ok = () => Promise.resolve(new Response("ok"));

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("agent_socket_", fn);
}

async function get(path: string): Promise<string> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
  try {
    return await (await fetch("http://agent/", { client })).text();
  } finally {
    client.close();
  }
}

Deno.test("serveSocket() names listener.socket, the path and the reason when it cannot listen", async () => {
  const path = "/nonexistent-dir-secrethub/s.sock";
  await assert.rejects(
    serveSocket(path, 0o660, undefined, ok),
    (e: unknown) =>
      e instanceof SocketListenError &&
      e.message === `listener.socket: ${path}: cannot listen: No such file or directory`,
  );
});

Deno.test("serveSocket() refuses a socket another process serves and leaves it in place", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "agent.sock");
    const first = await serveSocket(
      path,
      0o660,
      undefined,
      () => Promise.resolve(new Response("first")),
    );
    try {
      await assert.rejects(
        serveSocket(path, 0o660, undefined, ok),
        (e: unknown) =>
          e instanceof SocketListenError && e.message.includes(path) &&
          e.message.includes("in use"),
      );
      assert.equal(await get(path), "first");
    } finally {
      await first.close();
    }
    assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound);
  });
});

Deno.test("serveSocket() replaces a stale socket nobody listens on", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "agent.sock");
    // A socket file whose listener is gone, as a kill -9 leaves it: a hard link outlives the
    // listener's own unlink on close.
    const l = Deno.listen({ transport: "unix", path: join(dir, "x.sock") });
    Deno.linkSync(join(dir, "x.sock"), path);
    l.close();
    assert.ok(Deno.lstatSync(path).isSocket);
    const s = await serveSocket(path, 0o660, undefined, ok);
    try {
      assert.equal(await get(path), "ok");
      assert.equal(Deno.lstatSync(path).mode! & 0o777, 0o660);
    } finally {
      await s.close();
    }
  });
});

Deno.test("serveSocket() refuses to remove a path that is not a socket", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "agent.sock");
    Deno.writeTextFileSync(path, "not a socket");
    await assert.rejects(serveSocket(path, 0o660, undefined, ok), SocketListenError);
    assert.equal(Deno.readTextFileSync(path), "not a socket");
  });
});

Deno.test("serveSocket() close() leaves a socket at its path that is no longer its own", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "agent.sock");
    const first = await serveSocket(path, 0o660, undefined, ok);
    // Another process's socket now sits at the path (as after a second agent took it over).
    const other = Deno.listen({ transport: "unix", path: join(dir, "other.sock") });
    Deno.renameSync(join(dir, "other.sock"), path);
    try {
      await first.close();
      assert.ok(Deno.lstatSync(path).isSocket, "close() removed a socket that was not its own");
    } finally {
      other.close();
      await Deno.remove(path).catch(() => {});
    }
  });
});

Deno.test("serveSocket() serves on a path of 107 bytes, the most sun_path holds", async () => {
  await withDir(async (dir) => {
    const name = "agent.sock";
    const sub = join(dir, "d".repeat(107 - dir.length - name.length - 2));
    Deno.mkdirSync(sub);
    const path = join(sub, name);
    assert.equal(new TextEncoder().encode(path).length, 107);
    const s = await serveSocket(path, 0o660, undefined, ok);
    try {
      assert.equal(await get(path), "ok");
      assert.equal(Deno.lstatSync(path).mode! & 0o777, 0o660);
      // Nothing of the set-up is left next to the socket.
      assert.deepEqual([...Deno.readDirSync(sub)].map((e) => e.name), [name]);
    } finally {
      await s.close();
    }
    assert.deepEqual([...Deno.readDirSync(sub)], []);
  });
});

Deno.test("serveSocket() refuses a path longer than 107 bytes, saying so", async () => {
  await withDir(async (dir) => {
    const name = "agent.sock";
    const sub = join(dir, "d".repeat(108 - dir.length - name.length - 2));
    Deno.mkdirSync(sub);
    const path = join(sub, name);
    await assert.rejects(
      serveSocket(path, 0o660, undefined, ok),
      (e: unknown) =>
        e instanceof SocketListenError &&
        e.message ===
          `listener.socket: ${path}: the path is 108 bytes long; a Unix socket path may be at most 107`,
    );
    assert.deepEqual([...Deno.readDirSync(sub)], []);
  });
});

Deno.test("serveSocket() never chmods or chowns a symlink swapped in while it sets the socket up", async () => {
  await withDir(async (dir) => {
    const { out, victim, before, stop } = await startSymlinkSwapper(dir, "run", {
      keep: (out) => join(out, "agent.sock"),
    });
    const path = join(out, "agent.sock");
    try {
      const group = Deno.uid() === 0 ? "65534" : undefined;
      for (let i = 0; i < 50; i++) {
        // Refusing to start is fine; handing the victim over is not.
        const s = await serveSocket(path, 0o666, group, ok).catch(() => null);
        await s?.close();
      }
      const st = Deno.statSync(victim);
      assert.equal(st.mode! & 0o7777, 0o600, "the victim's mode was changed");
      assert.equal(st.gid, before.gid, "the victim's group was changed");
    } finally {
      await stop();
    }
  });
});
