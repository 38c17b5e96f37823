//! The command line: subcommands, their arguments and their help.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Receive, verify and test webhooks from booking platforms";

const LONG_ABOUT: &str = "\
Receive, verify and test webhooks from booking platforms.

Providers: eagenda, moncreneau, orufy, calendence, decoda, standard (Standard
Webhooks / Svix), and hmac (any platform signing the raw body with HMAC-SHA256,
configured with --header, --prefix and --encoding; --type-header names a
header that carries the event type, such as GitHub's X-GitHub-Event).

Secrets: --secret S, repeatable; any one of them verifies, signing uses the
first. Without --secret, the secret is read from the BOOKHOOK_SECRET
environment variable. For eagenda and orufy the secret is the token.

Inboxes (listen --inbox, bookhook inbox): named by a URL, sqlite:PATH or
redis://HOST:PORT (a Redis with appendonly yes); without --inbox URL, the BOOKHOOK_INBOX variable, else sqlite:bookhook-inbox.db.

Exit codes: 0 success; 1 failure (verify: the request is invalid; send: a
response was not 2xx; unreadable input or network error; inbox: unknown id or
unusable inbox); 2 usage error.";

const AFTER_HELP: &str = "\
Examples:
  bookhook providers --json
  bookhook sign --provider calendence --secret s3cr3t body.json
  bookhook verify --provider calendence --secret s3cr3t \\
      -H 'X-Calendence-Signature: sha256=...' body.json
  bookhook verify --provider orufy --secret s3cr3t --query 'token=s3cr3t' body.json
  bookhook send --provider calendence --secret s3cr3t \\
      --url http://127.0.0.1:5000/webhook --event booking.created
  bookhook listen --provider calendence --secret s3cr3t --exec './on-event.sh'
  bookhook listen --provider calendence --secret s3cr3t --inbox sqlite:hooks.db \\
      --retry-schedule 10s,1m,10m --exec './on-event.sh'
  bookhook inbox list --inbox sqlite:hooks.db --state dead";

/// The `bookhook` command.
#[derive(Debug, Parser)]
#[command(
    name = "bookhook",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the providers: scheme, headers, dedup key and event types.
    #[command(long_about = "\
List the providers, one row each: signature scheme, headers, idempotency
(dedup) key and known event types.

With --json, print a JSON array of objects with the fields `name`, `scheme`,
`headers` (every header the scheme reads, such as both the webhook-* and the
svix-* names of standard), `query` (query parameters it reads, such as orufy's
`token`), `dedup_key` and `event_types` (an empty `event_types` means the
provider accepts any type without a typed payload). Every listed event type
has a built-in sample for `send --event`.")]
    Providers(ProvidersArgs),

    /// Print the headers a sender adds to a body, one `Name: value` per line.
    #[command(long_about = "\
Sign a body as the provider would and print the headers a sender adds, one per
line as `Name: value`, and nothing else. The body is read from FILE, or from
standard input when FILE is `-` or absent.

Signing uses the first --secret. --id and --timestamp apply where the scheme
signs them (standard: webhook-id and webhook-timestamp); they default to a
fresh id and the current time.")]
    Sign(SignArgs),

    /// Verify a request: print `valid` (exit 0) or `invalid: <reason>` (exit 1).
    #[command(long_about = "\
Verify a request's signature and parse its body as the provider's event.

Prints `valid` and exits 0 when the signature is good and the body parses;
prints `invalid: <reason>` and exits 1 otherwise. Usage errors exit 2.
Headers are given as -H 'Name: value' (repeatable; the output lines of `sign`
can be passed as they are). The body is read from FILE, or from standard input
when FILE is `-` or absent. --now UNIX checks timestamps as if the time were
UNIX (seconds since the epoch) instead of the current time.")]
    Verify(VerifyArgs),

    /// Sign and POST a built-in sample event or a body to a URL.
    #[command(long_about = "\
Sign and POST deliveries to an http:// or https:// URL, and print one line per
request:
`<status> <event type> <idempotency key>` (both `-` when the body does not
parse as the provider's event). Exits 1 if any response was not 2xx (or any
request failed).

With --event TYPE, a built-in sample payload of that type is sent (every type
that `providers` lists has one); each `send` gives it a fresh
idempotency identity, so two runs are two distinct events. For standard and
hmac, any TYPE is accepted and a minimal envelope is built. Otherwise the body
is read from FILE, or from standard input when FILE is `-` or absent.

--repeat N sends the SAME signed request N times (duplicates of one delivery);
--concurrency C runs up to C of them at once.

An https:// receiver must show a certificate that the system trusts; to trust
a private certificate authority, set SSL_CERT_FILE to a PEM file that holds it
(it then replaces the system's roots). Each request may take 60 s, connection
to last byte; redirects are not followed and no proxy is used.")]
    Send(SendArgs),

    /// Run a local receiver that prints one JSON line per delivery.
    #[command(long_about = "\
Run a webhook receiver on ADDR at PATH. Once bound it writes
`listening on http://ADDR/PATH` to standard error. For every request it prints
exactly one JSON line to standard output, with the fields `provider`, `event`,
`kind` (normalized kind), `key` (idempotency key), `appointment_id`,
`starts_at`, `outcome` (handled, duplicate, in_flight, unrouted, rejected or
failed), `status` (the HTTP status answered) and `error` (the reason of a
rejection or failure, else null). Fields that are not known are null.

With --exec CMD, CMD is run with `sh -c` for each new event, with the event's
JSON body on standard input and BOOKHOOK_PROVIDER, BOOKHOOK_EVENT,
BOOKHOOK_KIND, BOOKHOOK_KEY and BOOKHOOK_APPOINTMENT_ID in its environment; its
standard output goes to standard error. Exit 0 marks the event handled (200);
a non-zero exit, or running longer than 30 s (the command is then killed),
marks it failed (500) and releases its claim so that the sender's retry runs it
again. Without --exec every verified event is handled.

The command does not get BOOKHOOK_SECRET, nor any variable whose value is one of
the secrets. Each BOOKHOOK_* value is cut to 4096 bytes and NUL bytes are
dropped; the body on standard input is always complete.

Deliveries are deduplicated in memory, or in Redis with --redis URL (shared by
every process using the same Redis).

Against slow or hostile clients: a request's headers must arrive within
--header-timeout, its body within --body-timeout (else 408), and a kept-alive
connection is closed after --idle-timeout of silence. At most
--max-connections are served at once (the others wait) and --max-deliveries
requests are in progress (the others get 503). Before verification, what the
headers alone can refuse (no or malformed signature header, wrong token) is
refused without reading the body, and bodies being read hold at most
--unverified-budget bytes in total (503 with Retry-After beyond).

SIGINT or SIGTERM stop accepting connections; the requests in progress get
--grace seconds, then their connections are closed and their events released
so that the sender's retry runs them again; it then exits 0. A second SIGINT or
SIGTERM exits at once with status 130.

Inbox mode (--inbox [URL]): each verified event is stored in the inbox and
answered as soon as it is stored, before CMD runs. The inbox is URL, or for a
bare --inbox the BOOKHOOK_INBOX variable, else sqlite:bookhook-inbox.db
(without --inbox, BOOKHOOK_INBOX is ignored and listen works as above). The
line of a request has `outcome` queued, duplicate or rejected (failed when the
inbox cannot write: 503) and the field `id` (the inbox id: of the new row, or
of the row a duplicate repeats; null when nothing was stored).
CMD then runs in the background, --workers at a time, with the same input,
environment and hygiene as above, for at most --handler-timeout; each attempt
prints one JSON line with the fields `id`, `provider`, `event`, `kind`, `key`,
`appointment_id`, `attempt`, `outcome` (processed, retrying or dead),
`next_attempt_at` (RFC 3339, or null) and `error` (or null). A failed attempt
is retried after the waits of --retry-schedule until --max-attempts, then the
event is dead (see `bookhook inbox`). Events of one appointment run one at a
time, oldest first. Events stored but not processed when listen stops (or is
killed) are processed on its next start with the same inbox. Without --exec
the events are stored and marked done at once: a recorder.")]
    Listen(Box<ListenArgs>),

    /// Look at, replay and purge the events an inbox holds.
    #[command(long_about = INBOX_ABOUT, after_help = INBOX_AFTER_HELP)]
    Inbox(InboxArgs),
}

const INBOX_ABOUT: &str = "\
Look at, replay and purge the events stored by `listen --inbox`.

The inbox is named by a URL: --inbox URL, else the BOOKHOOK_INBOX variable,
else sqlite:bookhook-inbox.db in the current directory. Supported: sqlite:PATH
(sqlite:///ABSOLUTE/PATH also works) and redis://HOST:PORT (also rediss://,
unix://), shared by every replica; a Redis inbox needs `appendonly yes`.

States: pending (waiting to run; a row waiting for its next retry is pending
with attempts > 0 and a next attempt time), processing, done and dead.
Times (--since, --before) are RFC 3339 (2026-12-01T09:00:00Z) or an age before
now (30m, 2h, 7d).

Exit codes: 0 success; 1 failure (no such inbox, unknown id, storage error);
2 usage error.";

const INBOX_AFTER_HELP: &str = "\
Examples:
  bookhook inbox list --state dead
  bookhook inbox show 42 --json
  bookhook inbox replay 42
  bookhook inbox replay --state dead --since 2h --dry-run
  bookhook inbox stats --json
  bookhook inbox replay --state done --since 1h \\
      --to http://127.0.0.1:5000/webhook --secret local-secret
  bookhook inbox purge --state done --before 7d --yes
  bookhook inbox ui --inbox sqlite:bookhook-inbox.db --addr 127.0.0.1:5050";

#[derive(Debug, Args)]
pub(crate) struct InboxArgs {
    #[command(subcommand)]
    pub(crate) command: InboxCommand,
}

/// Where the inbox is.
#[derive(Debug, Args)]
pub(crate) struct InboxUrlArg {
    /// The inbox: sqlite:PATH or redis://… [default: BOOKHOOK_INBOX, else sqlite:bookhook-inbox.db].
    #[arg(long, value_name = "URL")]
    pub(crate) inbox: Option<String>,
}

/// Which rows: shared by `list` and `replay`.
#[derive(Debug, Args)]
pub(crate) struct RowFilter {
    /// Only events from this provider.
    #[arg(long, value_enum, value_name = "P")]
    pub(crate) provider: Option<ProviderName>,

    /// Only events of this exact type (as the provider wrote it).
    #[arg(long = "type", value_name = "T")]
    pub(crate) event_type: Option<String>,

    /// Only events received at or after TIME (RFC 3339 or an age: 30m, 2h, 7d).
    #[arg(long, value_name = "TIME", value_parser = crate::inbox_url::parse_time)]
    pub(crate) since: Option<i64>,
}

/// A state, as shown everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StateName {
    /// Waiting to run, now or at its next attempt time.
    Pending,
    /// Being handled.
    Processing,
    /// Handled.
    Done,
    /// No more automatic attempts.
    Dead,
}

impl StateName {
    pub(crate) fn state(self) -> bookhook::inbox::State {
        use bookhook::inbox::State;
        match self {
            StateName::Pending => State::Pending,
            StateName::Processing => State::Processing,
            StateName::Done => State::Done,
            StateName::Dead => State::Dead,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum InboxCommand {
    /// List events, newest first: a table, or JSON lines with --json.
    #[command(long_about = "\
List stored events, newest first. For people, a table: id, received, provider,
type, kind, appointment, state, attempts, next attempt and last error.

With --json, one object per line with the fields `id`, `received_at`,
`provider`, `event`, `kind`, `key`, `appointment_id`, `state`, `attempts` (a
count), `next_attempt_at` and `last_error` (null where unknown). Times are
RFC 3339 in UTC.")]
    List(ListArgs),

    /// Show one event: every field, its attempts and its body.
    #[command(long_about = "\
Show one event: every field, its attempts, its stored headers (secrets
redacted) and its body (pretty-printed when it is JSON).

With --json, one object with the fields of `list --json`, plus `body` (the raw
body as a string), `headers` (an object; secrets redacted) and `attempts`, a
list of objects with `attempt`, `started_at`, `ended_at`, `outcome`
(running, processed, retrying, dead or expired), `error` and `trigger`
(automatic or manual). An unknown id exits 1.")]
    Show(ShowArgs),

    /// Count the events in each state, and the age of the oldest pending one.
    #[command(long_about = "\
Count the events in each state, and give the age of the oldest pending one.

With --json, one object:
{\"pending\":N,\"processing\":N,\"done\":N,\"dead\":N,\"oldest_pending_age_s\":X|null}")]
    Stats(StatsArgs),

    /// Put events back to pending so that `listen --inbox` runs them again.
    #[command(long_about = "\
Put events back to pending, due at once, so that a running (or the next)
`listen --inbox` on the same inbox handles them again; their next attempt is
marked manual. Events being processed are left alone. Select events by ID
(one or more), or by --state with optional --provider, --type and --since.
Prints how many were put back; --dry-run only counts them.

With --to URL --secret S, the inbox is left unchanged: each selected event is
signed again with its own provider's scheme (or --sign-as P, with --header,
--prefix and --encoding for hmac) and S, with a fresh id and timestamp where the
scheme signs them, and POSTed to URL (http:// or https://, trusted as for
`send`) in received order, printing
`<status> <event type> <key>` per event as `send` does. Exits 1 if any response
was not 2xx. This replays production events against a local copy of an app.")]
    Replay(ReplayArgs),

    /// Remove events for good (asks for confirmation on a terminal).
    #[command(long_about = "\
Remove events and their attempts for good: those in --state, those received
before --before, or those matching both. Events being processed are kept.
Their idempotency keys are free again, so a sender's retry of a purged event is
stored as new. On a terminal it asks for confirmation, unless --yes.")]
    Purge(PurgeArgs),

    /// Serve the inbox dashboard in a browser (loopback, with an access token).
    #[command(long_about = "\
Serve the inbox dashboard: an overview (events per state, the oldest pending
event, deliveries per minute over the last hour), the events with filters and
paging, each event's headers, body, appointment and attempts with Replay and
Mark dead, and the dead letters with \"replay all matching\".

It listens on 127.0.0.1:5050 unless --addr says otherwise; an address that is
not loopback is used only when given, with a warning. Every page needs the
access token: --token, else BOOKHOOK_DASHBOARD_TOKEN, else a random one. The
link printed at start-up carries it once (?token=…); the browser then keeps a
session cookie. Stops on SIGINT or SIGTERM.")]
    Ui(UiArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UiArgs {
    #[command(flatten)]
    pub(crate) url: InboxUrlArg,

    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5050")]
    pub(crate) addr: std::net::SocketAddr,

    /// The access token (at least 16 characters) [default: random].
    #[arg(
        long,
        value_name = "T",
        env = "BOOKHOOK_DASHBOARD_TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) url: InboxUrlArg,

    /// Only events in this state.
    #[arg(long, value_enum, value_name = "S")]
    pub(crate) state: Option<StateName>,

    #[command(flatten)]
    pub(crate) filter: RowFilter,

    /// At most N events.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) limit: u32,

    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    pub(crate) url: InboxUrlArg,

    /// The event's inbox id (the `id` of `list` and of listen's lines).
    #[arg(value_name = "ID")]
    pub(crate) id: String,

    /// One JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) url: InboxUrlArg,

    /// One JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) url: InboxUrlArg,

    /// The inbox ids of the events to replay.
    #[arg(value_name = "ID", required_unless_present = "state", conflicts_with_all = ["state", "provider", "event_type", "since"])]
    pub(crate) ids: Vec<String>,

    /// Replay every event in this state (with the filters below).
    #[arg(long, value_enum, value_name = "S")]
    pub(crate) state: Option<StateName>,

    #[command(flatten)]
    pub(crate) filter: RowFilter,

    /// Only count the events that would be replayed.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Instead, POST the selected events to this http:// or https:// URL, re-signed with
    /// --secret, in received order; the inbox is left unchanged.
    #[arg(
        long,
        value_name = "URL",
        requires = "secret",
        conflicts_with = "dry_run"
    )]
    pub(crate) to: Option<String>,

    /// With --to: the secret to sign with (for eagenda and orufy: the token).
    #[arg(long, value_name = "S", requires = "to")]
    pub(crate) secret: Option<String>,

    /// With --to: sign as this provider instead of each event's own.
    #[arg(long, value_enum, value_name = "P", requires = "to")]
    pub(crate) sign_as: Option<ProviderName>,

    /// With --to, signing as hmac: the header that carries the signature.
    #[arg(long, value_name = "NAME", requires = "to")]
    pub(crate) header: Option<String>,

    /// With --to, signing as hmac: a prefix before the MAC, such as `sha256=`.
    #[arg(long, value_name = "P", requires = "to")]
    pub(crate) prefix: Option<String>,

    /// With --to, signing as hmac: how the MAC is written [default: hex].
    #[arg(long, value_enum, value_name = "ENCODING", requires = "to")]
    pub(crate) encoding: Option<EncodingName>,
}

#[derive(Debug, Args)]
pub(crate) struct PurgeArgs {
    #[command(flatten)]
    pub(crate) url: InboxUrlArg,

    /// Remove the events in this state.
    #[arg(long, value_enum, value_name = "S", required_unless_present = "before")]
    pub(crate) state: Option<StateName>,

    /// Remove the events received before TIME (RFC 3339 or an age: 7d).
    #[arg(long, value_name = "TIME", value_parser = crate::inbox_url::parse_time)]
    pub(crate) before: Option<i64>,

    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

/// A provider name: one for each of the core's providers, with the one-line
/// summary of its description as help, both from the core's registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ProviderName(bookhook::Provider);

/// Every provider name, in the core's order.
static PROVIDER_NAMES: [ProviderName; bookhook::Provider::ALL.len()] = {
    let mut names = [ProviderName(bookhook::Provider::ALL[0]); bookhook::Provider::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = ProviderName(bookhook::Provider::ALL[i]);
        i += 1;
    }
    names
};

impl ProviderName {
    /// The name of a core provider: every provider has one, since the names
    /// are the core's own (an `Option` for the callers that chain it).
    pub(crate) fn of(provider: bookhook::Provider) -> Option<Self> {
        Some(Self(provider))
    }

    pub(crate) fn provider(self) -> bookhook::Provider {
        self.0
    }
}

impl ValueEnum for ProviderName {
    fn value_variants<'a>() -> &'a [Self] {
        &PROVIDER_NAMES
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.as_str()).help(self.0.description().summary))
    }
}

/// How the `hmac` provider writes its MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EncodingName {
    /// Lower-case hexadecimal (64 characters).
    Hex,
    /// Standard base64 with padding (44 characters).
    Base64,
}

/// The provider and its secrets, shared by every subcommand that signs or verifies.
#[derive(Debug, Args)]
pub(crate) struct ProviderArgs {
    /// The platform (or scheme) the webhooks come from.
    #[arg(long, value_enum, value_name = "P")]
    pub(crate) provider: ProviderName,

    /// A secret (for eagenda and orufy: the token). Repeatable: any one
    /// verifies, signing uses the first.
    #[arg(
        long = "secret",
        value_name = "S",
        env = "BOOKHOOK_SECRET",
        hide_env_values = true,
        required = true
    )]
    pub(crate) secrets: Vec<String>,

    /// hmac only: the header that carries the signature.
    #[arg(long, value_name = "NAME")]
    pub(crate) header: Option<String>,

    /// hmac only: a prefix before the MAC, such as `sha256=`.
    #[arg(long, value_name = "P")]
    pub(crate) prefix: Option<String>,

    /// hmac only: how the MAC is written [default: hex].
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub(crate) encoding: Option<EncodingName>,

    /// hmac only: a header that names the event type, read before the body
    /// (GitHub: X-GitHub-Event, Shopify: X-Shopify-Topic).
    #[arg(long, value_name = "NAME")]
    pub(crate) type_header: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ProvidersArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    pub(crate) provider: ProviderArgs,

    /// The message id to sign (standard) [default: a fresh id].
    #[arg(long, value_name = "ID")]
    pub(crate) id: Option<String>,

    /// The signing time in Unix seconds [default: now].
    #[arg(long, value_name = "UNIX")]
    pub(crate) timestamp: Option<u64>,

    /// The body to sign; `-` or absent reads standard input.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) provider: ProviderArgs,

    /// A request header, as `Name: value`. Repeatable.
    #[arg(
        short = 'H',
        long = "request-header",
        value_name = "NAME: VALUE",
        allow_hyphen_values = true
    )]
    pub(crate) headers: Vec<String>,

    /// The request URL's query string, without the `?` (for a token sent as a
    /// query parameter, such as Orufy's `token=...`).
    #[arg(long, value_name = "QUERY")]
    pub(crate) query: Option<String>,

    /// Check timestamps as if the time were UNIX (seconds) [default: now].
    #[arg(long, value_name = "UNIX")]
    pub(crate) now: Option<u64>,

    /// The body to verify; `-` or absent reads standard input.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    pub(crate) provider: ProviderArgs,

    /// Where to POST: an http:// or https:// URL.
    #[arg(long, value_name = "URL")]
    pub(crate) url: String,

    /// Send the built-in sample payload of this event type.
    #[arg(long, value_name = "TYPE", conflicts_with = "file")]
    pub(crate) event: Option<String>,

    /// Send the same signed request N times.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) repeat: u32,

    /// Run up to C requests at once.
    #[arg(long, value_name = "C", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) concurrency: u32,

    /// The body to send; `-` or absent reads standard input.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    #[command(flatten)]
    pub(crate) provider: ProviderArgs,

    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5000")]
    pub(crate) addr: SocketAddr,

    /// The path that receives webhooks.
    #[arg(long, value_name = "PATH", default_value = "/webhook")]
    pub(crate) path: String,

    /// The largest body accepted, in bytes; larger ones get 413 [default: 1048576].
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_body: Option<u64>,

    /// Deduplicate in Redis at this URL (redis://...) instead of in memory.
    #[arg(long, value_name = "URL")]
    pub(crate) redis: Option<String>,

    /// Run CMD (with `sh -c`) for each new event; its exit status decides.
    #[arg(long, value_name = "CMD")]
    pub(crate) exec: Option<String>,

    /// Seconds a client has to send a request's headers; the connection is
    /// then closed.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub(crate) header_timeout: Duration,

    /// Seconds a client has to send a whole body; then 408 and the
    /// connection is closed.
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = parse_secs)]
    pub(crate) body_timeout: Duration,

    /// Seconds a kept-alive connection may stay silent between requests.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub(crate) idle_timeout: Duration,

    /// Connections served at once; more wait in the backlog (logged).
    #[arg(long, value_name = "N", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: u32,

    /// Requests in progress at once; more get 503 with Retry-After (logged).
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_deliveries: u32,

    /// Bytes of bodies held before their signature is checked, all
    /// connections together; past it 503 with Retry-After.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) unverified_budget: u64,

    /// Seconds given to requests in progress after SIGINT or SIGTERM; then
    /// connections are closed and unfinished events released for a retry.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    pub(crate) grace: Duration,

    /// Serve the metrics in the Prometheus text format at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<SocketAddr>,

    /// Inbox mode: store each verified event in this inbox and answer at
    /// once; handle it in the background. A bare --inbox uses
    /// BOOKHOOK_INBOX, else sqlite:bookhook-inbox.db.
    #[arg(long, value_name = "URL", num_args = 0..=1, conflicts_with = "redis")]
    pub(crate) inbox: Option<Option<String>>,

    /// Inbox mode: events handled at once [default: 4].
    #[arg(long, value_name = "N", requires = "inbox",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) workers: Option<u32>,

    /// Inbox mode: attempts (the first included) before an event is dead
    /// [default: 8, or one more than the --retry-schedule waits].
    #[arg(long, value_name = "N", requires = "inbox",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) max_attempts: Option<u32>,

    /// Inbox mode: the waits before each retry (each moved by up to 20 %),
    /// the last one repeating [default: 5s,5m,30m,2h,5h,10h,10h].
    #[arg(long, value_name = "5s,1m,...", requires = "inbox",
          value_parser = crate::inbox_url::parse_durations)]
    pub(crate) retry_schedule: Option<std::vec::Vec<Duration>>,

    /// Inbox mode: how long --exec may run before it is killed and the
    /// attempt fails [default: 30s].
    #[arg(long, value_name = "DURATION", requires = "inbox",
          value_parser = crate::inbox_url::parse_duration)]
    pub(crate) handler_timeout: Option<Duration>,
}

/// Seconds, whole or decimal (`10`, `0.5`), longer than zero and at most a day.
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "`{text}` must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn listen_limits_have_defaults_and_take_decimal_seconds() {
        let parsed = Cli::try_parse_from([
            "bookhook",
            "listen",
            "--provider",
            "calendence",
            "--secret",
            "s",
            "--grace",
            "0.5",
        ])
        .expect("valid arguments");
        let Command::Listen(args) = parsed.command else {
            panic!("not listen");
        };
        assert_eq!(args.header_timeout, Duration::from_secs(10));
        assert_eq!(args.body_timeout, Duration::from_secs(15));
        assert_eq!(args.idle_timeout, Duration::from_secs(5));
        assert_eq!(args.grace, Duration::from_millis(500));
        assert_eq!((args.max_connections, args.max_deliveries), (512, 256));
        assert_eq!(args.unverified_budget, 64 * 1024 * 1024);
        for bad in ["0", "-1", "soon", "100000"] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_provider_has_a_name_the_core_knows() {
        for name in ProviderName::value_variants() {
            let shown = name.to_possible_value().map(|v| v.get_name().to_owned());
            assert_eq!(shown.as_deref(), Some(name.provider().as_str()));
        }
        assert_eq!(
            ProviderName::value_variants().len(),
            bookhook::Provider::ALL.len()
        );
    }
}
