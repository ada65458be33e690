/** Tests of lib/server/negotiate.ts: the exposition format an Accept header prefers. */

import assert from "node:assert/strict";
import { negotiate } from "../../lib/server/negotiate.ts";

const OM = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT = "text/plain; version=0.0.4; charset=utf-8";

Deno.test("negotiate: what Prometheus sends gets OpenMetrics", () => {
  const headers = [
    // Prometheus 2.42 (fixed header).
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    // Prometheus 3.x, default scrape_protocols.
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    // Prometheus 3.x with native histograms: protobuf first, which we do not write.
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
  ];
  for (const h of headers) {
    assert.deepEqual(negotiate(h), { format: "openmetrics", contentType: OM });
  }
});

Deno.test("negotiate: q-values, specificity and order", () => {
  const cases: [string | null, "text" | "openmetrics", string?][] = [
    [null, "text"],
    ["", "text"],
    ["*/*", "text"],
    ["text/plain", "text"],
    ["text/*", "text"],
    ["application/openmetrics-text", "openmetrics"],
    ["application/*", "openmetrics"],
    ["application/json", "text"], // nothing acceptable: the text format, not a 406
    ["application/vnd.google.protobuf", "text"],
    // Prometheus 3 with scrape_protocols: [PrometheusText0.0.4].
    ["text/plain;version=0.0.4;q=0.2,*/*;q=0.1", "text"],
    ["text/plain;version=1.0.0;escaping=allow-utf-8", "text"],
    ["text/plain;q=0.9,application/openmetrics-text;q=0.5", "text"],
    ["text/plain;q=0.5,application/openmetrics-text;q=0.9", "openmetrics"],
    ["application/openmetrics-text,text/plain", "openmetrics"], // tie: first listed
    ["text/plain,application/openmetrics-text", "text"],
    ["application/openmetrics-text;q=0,*/*", "text"],
    ["text/plain;q=0,*/*", "openmetrics"], // text refused by its own range, */* admits OM
    ["text/plain;q=0,application/openmetrics-text;q=0", "text"], // nothing: the default
    ["application/openmetrics-text;version=2.0.0,text/plain;q=0.1", "text"], // 2.0 is not written
    ["text/plain;version=0.0.5,application/openmetrics-text;q=0.1", "openmetrics"],
    ["APPLICATION/OpenMetrics-Text; Version=1.0.0", "openmetrics"],
    ['application/openmetrics-text; version="1.0.0"', "openmetrics"],
    ["application/openmetrics-text;q=abc,text/plain;q=0.1", "text"], // a bad q counts as 0
    ["garbage, ;;, /, text/plain", "text"],
    ["application/openmetrics-text;version=0.0.1", "openmetrics", "0.0.1"],
  ];
  for (const [accept, format, version] of cases) {
    const got = negotiate(accept);
    assert.equal(got.format, format, String(accept));
    const type = format === "text"
      ? TEXT
      : `application/openmetrics-text; version=${version ?? "1.0.0"}; charset=utf-8`;
    assert.equal(got.contentType, type, String(accept));
  }
});
