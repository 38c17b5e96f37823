// The seed 000 Express sample with verification added the way a Node user
// would: `@octokit/webhooks`' `verify(payload, signature)` over the raw body,
// with `X-Hub-Signature-256: sha256=<hex>` (HMAC-SHA256 with $HUB_SECRET).
// 401 on a bad signature. No deduplication. Listens on 127.0.0.1:$PORT;
// BOOKHOOK_QUIET=1 turns off the per-request console.log.
import express from "express";
import { Webhooks } from "@octokit/webhooks";

const webhooks = new Webhooks({ secret: process.env.HUB_SECRET || "hub-secret" });
const app = express();
app.use(express.raw({ type: "application/json" }));

const log = process.env.BOOKHOOK_QUIET ? () => {} : console.log;

app.post("/webhook/eagenda", async (req, res) => {
  const payload = req.body.toString("utf8");
  const signature = req.get("x-hub-signature-256") || "";
  let valid = false;
  try {
    valid = await webhooks.verify(payload, signature);
  } catch {
    valid = false;
  }
  if (!valid) {
    res.status(401).json({ error: "invalid_signature" });
    return;
  }
  const { event, data } = JSON.parse(payload);
  switch (event) {
    case "appointment.created":
      log(`New appointment: ${data.search_code}`);
      break;
    case "appointment.canceled":
      log(`Cancellation: ${data.search_code}`);
      break;
  }
  res.status(200).json({ status: "ok" });
});

const port = Number(process.env.PORT || 5000);
app.listen(port, "127.0.0.1", () => console.log(`Webhook server running on port ${port}`));
