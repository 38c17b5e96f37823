// eAgenda's Node.js (Express) webhook sample, as published on its webhooks page
// (seed 000), with two changes for the load harness: it listens on
// 127.0.0.1:$PORT, and BOOKHOOK_QUIET=1 turns off the per-request console.log
// (as it does for the bookhook examples). It verifies nothing and does not
// deduplicate.
const express = require("express");
const app = express();
app.use(express.json());

const log = process.env.BOOKHOOK_QUIET ? () => {} : console.log;

app.post("/webhook/eagenda", (req, res) => {
  const { event, data } = req.body;
  switch (event) {
    case "appointment.created":
      log(`New appointment: ${data.search_code}`);
      // Your logic here
      break;
    case "appointment.canceled":
      log(`Cancellation: ${data.search_code}`);
      break;
  }
  res.status(200).json({ status: "ok" });
});

const port = Number(process.env.PORT || 5000);
app.listen(port, "127.0.0.1", () => console.log(`Webhook server running on port ${port}`));
