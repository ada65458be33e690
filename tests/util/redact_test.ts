/** Tests of lib/util/redact.ts: credentials kept out of labels, logs and pages. */

import assert from "node:assert/strict";
import { redactUrl, scrubSecrets, splitCredentials } from "../../lib/util/redact.ts";

Deno.test("redactUrl", async (t) => {
  await t.step("masks the password, keeps the user", () => {
    const cases: [string, string][] = [
      ["https://user:pass@host.example/", "https://user:***@host.example/"],
      [
        "http://user:pass@host.example:8080/a/b?c=d#e",
        "http://user:***@host.example:8080/a/b?c=d#e",
      ],
      ["https://user:p%40ss@host.example/", "https://user:***@host.example/"],
      // An unencoded '@' in the password: the last '@' ends the credentials.
      ["https://user:p@ss@host.example/", "https://user:***@host.example/"],
      ["https://:onlypass@host.example/", "https://:***@host.example/"],
    ];
    for (const [url, shown] of cases) assert.equal(redactUrl(url), shown, url);
  });
  await t.step("leaves URLs without credentials untouched", () => {
    for (
      const url of [
        "https://host.example/",
        "https://host.example",
        "http://host.example:8080/a?b=c",
        "https://host.example/path/with@sign",
      ]
    ) {
      assert.equal(redactUrl(url), url);
    }
  });
  await t.step("masks a user name alone: it is often a token", () => {
    assert.equal(redactUrl("https://ghp_token123@host.example/"), "https://***@host.example/");
  });
  await t.step("an unparseable URL: everything between // and @ is masked", () => {
    assert.equal(redactUrl("https://user:pass@host:badport/"), "https://***@host:badport/");
    assert.equal(redactUrl("not a url"), "not a url");
    assert.equal(redactUrl("https://host:badport/"), "https://host:badport/");
  });
  await t.step("an unparseable URL never shows any part of the password", () => {
    const cases: [string, string[]][] = [
      // An unencoded '/' in the password makes the URL unparseable.
      ["https://monitor:pa55/w0rd@a.example/", ["pa55", "w0rd"]],
      // An unencoded '@' in the password of an otherwise broken URL.
      ["https://monitor:h@ck3r@b.example:port/", ["h@ck3r", "ck3r"]],
    ];
    for (const [url, parts] of cases) {
      const shown = redactUrl(url);
      for (const part of parts) assert.ok(!shown.includes(part), `'${part}' leaked: ${shown}`);
    }
  });
});

Deno.test("splitCredentials", async (t) => {
  await t.step("removes the credentials and returns them decoded", () => {
    assert.deepEqual(splitCredentials("https://us%20er:p%40ss%3Aw@host.example/x?y=1"), {
      url: "https://host.example/x?y=1",
      username: "us er",
      password: "p@ss:w",
    });
  });
  await t.step("a user without a password", () => {
    assert.deepEqual(splitCredentials("https://token@host.example/"), {
      url: "https://host.example/",
      username: "token",
      password: "",
    });
  });
  await t.step("no credentials: empty strings, URL normalised", () => {
    assert.deepEqual(splitCredentials("https://HOST.example"), {
      url: "https://host.example/",
      username: "",
      password: "",
    });
  });
  await t.step("an unparseable URL throws", () => {
    assert.throws(() => splitCredentials("not a url"), TypeError);
  });
});

Deno.test("scrubSecrets", async (t) => {
  await t.step("replaces every occurrence of every secret", () => {
    assert.equal(
      scrubSecrets("token=abc123 again abc123, pw=hunter2", ["abc123", "hunter2"]),
      "token=*** again ***, pw=***",
    );
  });
  await t.step("secrets are matched literally, not as patterns", () => {
    assert.equal(scrubSecrets("a.b*c and axbbc", ["a.b*c"]), "*** and axbbc");
    assert.equal(scrubSecrets("x $& y", ["$& y"]), "x ***");
  });
  await t.step("empty and very short secrets do not mask everything", () => {
    assert.equal(scrubSecrets("a b c", ["", "a", "b "]), "a b c");
  });
  await t.step("no secrets, no change", () => {
    assert.equal(scrubSecrets("plain text", []), "plain text");
    assert.equal(scrubSecrets("plain text", new Set<string>()), "plain text");
  });
  await t.step("overlapping secrets: no part of the longer one survives", () => {
    // `abc` masked first would leave `***def`, showing the tail of `abcdef`.
    for (const secrets of [["abc", "abcdef"], ["abcdef", "abc"]]) {
      const out = scrubSecrets("pw=abcdef", secrets);
      assert.ok(!out.includes("def"), `${JSON.stringify(secrets)} -> ${out}`);
    }
  });
});
