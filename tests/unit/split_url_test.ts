import assert from "node:assert/strict";
import { splitUrl } from "../../core/http/pipeline.ts";

Deno.test("splitUrl gives what URL gives for the paths and queries requests carry", () => {
  for (
    const u of [
      "http://127.0.0.1:8200/v1/secret/data/a",
      "http://127.0.0.1:8200/v1/secret/data/a?version=2",
      "http://127.0.0.1:8200/v1/secret/metadata/?list=true&x=1",
      "https://[::1]:8200/v1/sys/health?standbyok=true",
      "http://h/v1/secret/data/a%2Fb?x=%20y",
      "http://h/",
      "http://h/v1/x?",
      "http://h/v1/x#frag",
      "http://h/v1/x?a=1#frag",
    ]
  ) {
    const url = new URL(u);
    assert.deepEqual(splitUrl(u), { pathname: url.pathname, search: url.search }, u);
  }
  assert.deepEqual(splitUrl("http://h"), { pathname: "/", search: "" });
  // Dot segments are kept, for decodePath to refuse, where URL would resolve them.
  assert.equal(splitUrl("http://h/v1/secret/../sys/seal").pathname, "/v1/secret/../sys/seal");
});
