"""The gateway's one strict TOML configuration: typed, documented, bounded, no unknown keys.

Every field carries a description, a default and (where numeric) bounds, so the schema can drive
documentation and forms. Secrets are never config values: the config names *files* that hold them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import GatewayError

DEFAULT_CONFIG = Path("/etc/salestag/gateway.toml")  #: the operator's file on an appliance


class ConfigError(GatewayError):
    """The configuration file is missing, malformed or has values out of bounds."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class TextForm:
    """The form a text setting must take: a regular expression, and that form in words.

    ``expected`` completes "must be ...", so a refused value's message names the field's own rule.
    """

    regex: re.Pattern[str]
    expected: str


_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def identifier(what: str) -> TextForm:
    """An identifier of 1-64 letters, digits, '-' or '_' (safe in MQTT topics and file names)."""
    return TextForm(_ID, f"{what} of 1 to 64 letters, digits, '-' or '_'")


def setting(default: Any, doc: str, *, lo: float | None = None, hi: float | None = None,
            choices: tuple[str, ...] | None = None, form: TextForm | None = None) -> Any:
    """Declare a config field with its default, description and bounds."""
    meta = {"doc": doc, "lo": lo, "hi": hi, "choices": choices,
            "pattern": form.regex if form else None, "expected": form.expected if form else None}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


_SYSTEM_ACCOUNT = TextForm(
    re.compile(r"^[a-z_][a-z0-9_-]{0,31}$"),
    "a system account name: a lowercase letter or '_', then up to 31 lowercase letters, "
    "digits, '-' or '_'")
_LANGUAGE = TextForm(re.compile(r"^(auto|[a-z]{2,3})$"),
                     "auto or a language code of 2 or 3 lowercase letters (ISO 639, e.g. en, de)")


@dataclass
class SiteConfig:
    """Who this gateway is."""

    id: str = setting("store-001", "Site identifier used in badge topics.",
                      form=identifier("a site id (part of every badge topic)"))
    gateway_id: str = setting("gw-001", "This gateway's identifier, unique in the fleet.",
                              form=identifier("a gateway id"))
    name: str = setting("", "Human-readable site name shown in the web UI (e.g. a store's name).")


@dataclass
class PathsConfig:
    """Where the gateway keeps its state."""

    data_dir: str = setting("/var/lib/salestag", "State directory: database, spool, keys, models.")


@dataclass
class BrokerConfig:
    """The local Mosquitto broker that badges publish to."""

    host: str = setting("127.0.0.1", "Address of the local broker.")
    port: int = setting(1883, "Port of the broker's gateway listener.", lo=1, hi=65535)
    client_id: str = setting("salestag-gateway", "MQTT client id of the gateway.",
                             form=identifier("an MQTT client id"))
    username: str = setting("salestag-gateway", "The gateway's user name at the local broker "
                            "(its password is the file keys/broker-gateway.secret).",
                            form=identifier("a broker user name"))
    user: str = setting("mosquitto", "Account the broker runs as after reading its keys "
                        "(when started as root).", form=_SYSTEM_ACCOUNT)
    tls_port: int = setting(8883, "Port of the badges' TLS listener (client certificates "
                            "required); 0 disables it.", lo=0, hi=65535)
    tls_bind: str = setting("0.0.0.0", "Address the badges' TLS listener binds to.")  # noqa: S104
    advertised_host: str = setting(
        "", "Name or address badges reach this gateway at (written into pairing bundles and "
        "the server certificate); empty: the host name.")
    anonymous_local_topics: list[str] = setting(
        [], "Topic filters that anonymous clients on the loopback listener may use (e.g. a "
        "demo HQ on the same broker); empty: anonymous clients are refused.")


@dataclass
class IngestConfig:
    """Reassembly of badge audio."""

    session_timeout_s: float = setting(
        30.0, "Seconds without frames after which a session is finished.", lo=1, hi=3600)
    reorder_window: int = setting(
        4096, "How far ahead of the next expected frame a frame may arrive.", lo=16, hi=1_000_000)
    ack_interval_ms: int = setting(
        50, "Acks are sent (after the spool is flushed) at most this often per session.",
        lo=5, hi=5000)
    fsync: str = setting(
        "always", "Before acking: 'always' forces spooled audio to the disk (survives power "
        "loss); 'never' hands it to the OS only (survives a crash of the gateway).",
        choices=("always", "never"))
    max_session_s: int = setting(
        4 * 3600, "Longest session a badge may record; later frames are refused.",
        lo=10, hi=86400)
    badge_max_kbps: int = setting(
        512, "Per-badge ingest rate limit in KiB/s of frames (resends after an outage need "
        "headroom above real time).", lo=8, hi=1_000_000)
    badge_burst_kb: int = setting(
        4096, "Per-badge burst allowance in KiB above the rate limit.", lo=64, hi=1_000_000)
    spool_quota_mb: int = setting(
        4096, "Disk quota of the audio spool in MiB.", lo=1, hi=10_000_000)
    high_watermark_pct: int = setting(
        90, "Spool fill (percent of the quota) at which new sessions are refused.",
        lo=1, hi=100)
    low_watermark_pct: int = setting(
        80, "Spool fill at which new sessions are taken again after the high mark.",
        lo=0, hi=99)
    min_free_mb: int = setting(
        256, "Free disk space below which new sessions are refused, whatever the quota.",
        lo=0, hi=10_000_000)


@dataclass
class BadgesConfig:
    """Badge identity: certificates from the gateway's local CA."""

    cert_days: int = setting(3 * 365, "Validity of a badge's client certificate, in days.",
                             lo=1, hi=20 * 365)


@dataclass
class UploadConfig:
    """The Wi-Fi upload server for badges that recorded offline (HTTPS, badge-authenticated)."""

    enabled: bool = setting(True, "Serve the badges' upload API (started by "
                            "`salestag-gateway run`).")
    bind: str = setting("0.0.0.0", "Address the upload server listens on.")  # noqa: S104
    port: int = setting(8444, "HTTPS port of the upload server.", lo=1, hi=65535)
    workers: int = setting(1, "Upload capacity: 4 requests at once per worker (`badge-server` "
                           "runs this many processes; `run` gives the upload API 4 threads each "
                           "in the server it shares with the web UI).", lo=1, hi=16)
    ack_wait_s: float = setting(
        5.0, "How long an upload request waits for the gateway's ack before answering 202.",
        lo=0, hi=60)


@dataclass
class SpeechConfig:
    """Speech recognition on the device."""

    model: str = setting("tiny.en", "Catalogue model name: tiny.en (English) or base "
                         "(multilingual, more accurate, about 2x slower), or auto to pick by "
                         "this box's hardware (base on a Raspberry Pi 5 or a PC, tiny.en on a "
                         "Pi 4 or with under 2 GB of memory; both must be installed).",
                         choices=("tiny.en", "base", "auto"))
    quant: str = setting("q8_0", "Model quantization (whisper.cpp engine).",
                         choices=("q8_0", "f16"))
    model_path: str = setting(
        "", "Explicit ggml model file placed by an operator; overrides model/quant when set.")
    threads: int = setting(0, "Threads per transcription worker; 0 means cores minus one, "
                           "shared among the workers (at least 1).", lo=0, hi=64)
    vad_aggressiveness: int = setting(2, "WebRTC VAD aggressiveness, 0 (least) to 3.", lo=0, hi=3)
    workers: int = setting(0, "Transcription workers running at once; 0 means cores minus one "
                           "(at least 1). Each loads its own model.", lo=0, hi=8)
    engine: str = setting("whisper.cpp", "Speech engine: whisper.cpp, or faster-whisper "
                          "(CTranslate2; needs the faster-whisper extra and "
                          "`models install MODEL --quant ct2`).",
                          choices=("whisper.cpp", "faster-whisper"))
    language: str = setting("en", "Spoken language (ISO 639-1 code), or auto to detect it "
                            "(multilingual models only).", form=_LANGUAGE)
    beam_size: int = setting(1, "Beam width; 1 decodes greedily (see the README's figures "
                             "before raising it).", lo=1, hi=8)
    short_beam_size: int = setting(
        5, "Beam width for speech windows shorter than shrink_window_below_s (whisper.cpp); "
        "beam search finds more words on short utterances at a small cost (see the README's "
        "figures); 1 decodes them greedily too.", lo=1, hi=8)
    vocabulary: list[str] = setting(
        [], "Product and brand names used at this site; with the competitor names they prime "
        "the recognizer (initial prompt) so it spells them right.")
    vocabulary_prompt: bool = setting(
        True, "Prime the recognizer with the vocabulary and competitor names (windows of "
        "20 s or more at full context; on short ones it costs words): fewer word errors. "
        "whisper.cpp then writes one segment per window; "
        "the gateway cuts it at sentence ends and shares out its time by sentence length.")
    shrink_window_below_s: float = setting(
        20.0, "Encode speech windows shorter than this with a cut-down audio context "
        "(whisper.cpp), so short utterances do not pay for a full 30 s (as accurate as the full "
        "context within measurement noise, see the README); 0 turns it off.",
        lo=0, hi=30)
    vad: str = setting("webrtc", "Voice activity detector: webrtc (tiny, fast) or silero "
                       "(rejects loud noise; needs the faster-whisper extra, ~35 MB more RSS).",
                       choices=("webrtc", "silero"))


@dataclass
class TaggerConfig:
    """Tagging of transcripts."""

    engine: str = setting(
        "semantic", "Tagger: \"semantic\" (sentence embeddings of the minilm text model plus "
        "the keyword rules; the rules alone, with a warning, while the model is not installed) "
        "or \"rules\" (the keyword rules alone).", choices=("semantic", "rules"))
    competitors: list[str] = setting(
        [], "Extra competitor names mentioned by customers (added to the built-in list).")
    trackers: list[str] = setting(
        [], "Site trackers, each tagged tracker.<label>: \"phrase\", \"label = phrase | "
        "phrase\", \"label @customer = phrase\" (only when that speaker says it), or a smart "
        "tracker from 5-20 example sentences: \"label ~ sentence | sentence | ...\".")


@dataclass
class RetentionConfig:
    """How long data is kept on the device."""

    raw_audio_days: int = setting(
        0, "Days to keep encrypted raw audio after transcription; 0 deletes it at once.",
        lo=0, hi=3650)
    transcript_days: int = setting(
        90, "Days to keep a transcript (segments, tag evidence); then its data key is destroyed.",
        lo=1, hi=3650)
    tags_days: int = setting(
        365, "Days to keep tag names, spans and talk metrics (no text) of a conversation.",
        lo=1, hi=3650)
    held_days: int = setting(
        7, "Days a conversation held for missing consent is kept before it is purged.",
        lo=0, hi=365)
    audit_days: int = setting(
        730, "Days to keep audit log entries (pruned only at a signed checkpoint).",
        lo=30, hi=36500)
    min_free_mb: int = setting(
        512, "Free-space floor of the data disk in MiB; below it the oldest raw audio goes "
        "first.", lo=0, hi=10_000_000)
    sweep_interval_s: int = setting(
        300, "Seconds between retention sweeps.", lo=10, hi=86400)


@dataclass
class ConsentConfig:
    """Recording consent rules of the site's jurisdiction."""

    jurisdiction: str = setting(
        "all_party", "one_party, or all_party (every party must be told; e.g. CA, FL, IL, MD, "
        "MA, MT, NH, PA, WA). When in doubt, all_party.", choices=("one_party", "all_party"))
    disclosure_window_s: float = setting(
        60.0, "All-party: seconds from the start within which the disclosure must be heard "
        "(or declared on the badge).", lo=1, hi=3600)
    policy_action: str = setting(
        "hold", "All-party, no disclosure in time: hold (withheld, purged after "
        "retention.held_days) or purge at once.", choices=("hold", "purge"))
    disclosure_version: str = setting(
        "v1", "Version label of the disclosure script reps use; recorded in the consent ledger.",
        form=identifier("a version label (e.g. v1)"))
    min_confidence: float = setting(
        0.8, "Tagger confidence at which a disclosure or opt-out phrase counts.", lo=0.1, hi=1.0)


@dataclass
class AuditConfig:
    """The tamper-evident audit log."""

    checkpoint_interval_s: int = setting(
        3600, "Seconds between signed audit checkpoints (also sent to HQ).", lo=10, hi=86400)


@dataclass
class UpstreamConfig:
    """Sealed metadata sync to HQ."""

    enabled: bool = setting(False, "Send sealed metadata envelopes to the HQ broker.")
    host: str = setting("", "HQ broker address.")
    port: int = setting(8883, "HQ broker port.", lo=1, hi=65535)
    tls: bool = setting(True, "Use TLS to the HQ broker.")
    ca_file: str = setting("", "CA bundle for the HQ broker (empty: system trust store).")
    tenant_public_key: str = setting(
        "keys/tenant.pub", "File with HQ's X25519 public key (relative to data_dir).")
    extra_tenant_public_keys: list[str] = setting(
        [], "Further HQ X25519 public key files (key rotation): each envelope is sealed to every "
        "key, tenant_public_key first.")
    client_cert_file: str = setting(
        "", "This gateway's TLS client certificate (PEM) for the HQ broker; empty: none.")
    client_key_file: str = setting(
        "", "Private key (PEM, mode 0600) of client_cert_file.")
    client_id: str = setting(
        "", "MQTT client id at the HQ broker (empty: the gateway id).")
    outbox_quota_mb: int = setting(
        256, "Disk quota for envelopes waiting to go upstream, in MiB; past it the gateway "
        "holds new envelopes back (its local data is kept) until the backlog drains.",
        lo=1, hi=1_000_000)
    outbox_warn_pct: int = setting(
        80, "Outbox fill level (percent of the quota) that raises a health warning.",
        lo=10, hi=99)
    max_envelope_kib: int = setting(
        96, "Largest sealed envelope the egress guard lets out, in KiB.", lo=4, hi=128)
    health_interval_s: int = setting(
        900, "Seconds between gateway health envelopes; 0 sends none.", lo=0, hi=86400)
    keep_sent_days: int = setting(
        7, "Days an acknowledged envelope's key is remembered in the outbox.", lo=0, hi=3650)


@dataclass
class CaptureConfig:
    """A microphone on the gateway itself (a USB mic or a badge dock), recorded like a badge."""

    enabled: bool = setting(
        False, "Record the local microphone (started by `salestag-gateway run`).")
    device: str = setting(
        "", "Input device: a PortAudio device name or index, or an ALSA PCM name; empty: default.")
    sample_rate: int = setting(16000, "Sample rate asked of the device, in Hz.",
                               lo=8000, hi=48000)
    channels: int = setting(1, "Channels to record: 1, or 2 for a two-mic dock.", lo=1, hi=2)
    badge_id: str = setting("local-mic", "Badge id under which the microphone's audio is stored.",
                            form=identifier("a badge id"))
    frame_ms: int = setting(100, "Audio per frame, in milliseconds.", lo=10, hi=1000)
    session_s: float = setting(
        300.0, "A recording is cut into conversations of at most this many seconds.",
        lo=5, hi=14400)


@dataclass
class WebConfig:
    """The installer's and manager's web UI, served over HTTPS by the gateway."""

    enabled: bool = setting(True, "Serve the web UI (started by `salestag-gateway run`).")
    bind: str = setting("127.0.0.1", "Address the web UI listens on; 0.0.0.0 for the store LAN.")
    port: int = setting(8443, "HTTPS port of the web UI.", lo=1, hi=65535)
    tls_cert: str = setting(
        "", "PEM certificate for the web UI (empty: web/server.crt, made by init).")
    tls_key: str = setting("", "PEM private key for tls_cert (empty: web/server.key).")
    session_idle_minutes: int = setting(
        30, "Minutes without activity after which a login session ends.", lo=5, hi=720)
    login_max_failures: int = setting(
        5, "Failed logins in a row that lock an account.", lo=3, hi=20)
    lockout_minutes: int = setting(
        15, "Minutes an account stays locked after too many failed logins.", lo=1, hi=1440)


@dataclass
class Config:
    """The whole gateway configuration."""

    site: SiteConfig = field(default_factory=SiteConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    tagger: TaggerConfig = field(default_factory=TaggerConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    consent: ConsentConfig = field(default_factory=ConsentConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    web: WebConfig = field(default_factory=WebConfig)
    badges: BadgesConfig = field(default_factory=BadgesConfig)
    upload: UploadConfig = field(default_factory=UploadConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.paths.data_dir)

    def data_path(self, value: str) -> Path:
        """Resolve a path setting relative to the data directory."""
        path = Path(value)
        return path if path.is_absolute() else self.data_dir / path

    @property
    def workers(self) -> int:
        """Transcription workers: the setting, or cores minus one (at least 1)."""
        return self.speech.workers or max(1, (os.cpu_count() or 2) - 1)

    @property
    def threads(self) -> int:
        """Engine threads per worker: the setting, or the spare cores shared among workers."""
        return self.speech.threads or max(1, ((os.cpu_count() or 2) - 1) // self.workers)


def iter_fields() -> Iterator[tuple[str, dataclasses.Field[Any]]]:
    """Yield (dotted name, field) for every setting, in declaration order."""
    defaults = Config()
    for section in dataclasses.fields(Config):
        for item in dataclasses.fields(getattr(defaults, section.name)):
            yield f"{section.name}.{item.name}", item


def _check_value(name: str, item: dataclasses.Field[Any], value: Any) -> str | None:
    expected = str(item.type)
    kinds: dict[str, type | tuple[type, ...]] = {
        "str": str, "int": int, "float": (int, float), "bool": bool, "list[str]": list,
    }
    if isinstance(value, bool) and expected in ("int", "float"):
        return f"{name}: expected {expected}, got a boolean"
    if not isinstance(value, kinds[expected]):
        return f"{name}: expected {expected}, got {type(value).__name__}"
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        return f"{name}: expected a list of strings"
    meta = item.metadata
    if meta["lo"] is not None and value < meta["lo"]:
        return f"{name}: {value} is below the minimum {meta['lo']}"
    if meta["hi"] is not None and value > meta["hi"]:
        return f"{name}: {value} is above the maximum {meta['hi']}"
    if meta["choices"] and value not in meta["choices"]:
        return f"{name}: {value!r} is not one of {', '.join(meta['choices'])}"
    if meta["pattern"] and not meta["pattern"].match(value):
        return f"{name}: {value!r} must be {meta['expected']}"
    return None


def parse_config(data: dict[str, Any]) -> Config:
    """Build a Config from parsed TOML, collecting every problem before failing."""
    problems: list[str] = []
    config = Config()
    sections = {f.name: f for f in dataclasses.fields(Config)}
    for section_name, table in data.items():
        if section_name not in sections:
            problems.append(f"unknown section [{section_name}]")
            continue
        if not isinstance(table, dict):
            problems.append(f"{section_name}: expected a table")
            continue
        section = getattr(config, section_name)
        known = {f.name: f for f in dataclasses.fields(section)}
        for key, value in table.items():
            name = f"{section_name}.{key}"
            if key not in known:
                problems.append(f"unknown key {name}")
                continue
            problem = _check_value(name, known[key], value)
            if problem:
                problems.append(problem)
            else:
                setattr(section, key, float(value) if known[key].type == "float" else value)
    problems += _tracker_problems(config.tagger.trackers) + _port_problems(config)
    if problems:
        raise ConfigError(problems)
    return config


def _port_problems(config: Config) -> list[str]:
    """The web UI and the upload API sharing a port: one server answers both, telling them
    apart by the port a request arrived on, so each needs its own."""
    web, upload = config.web, config.upload
    if web.enabled and upload.enabled and web.port == upload.port:
        return [f"web.port and upload.port are both {web.port}: the web UI and the badges' "
                "upload API need a port each (or set web.enabled or upload.enabled to false)"]
    return []


def _tracker_problems(specs: list[str]) -> list[str]:
    """Every tracker definition that does not parse, as a config problem."""
    from gateway.intel.trackers import TrackerError, parse_tracker

    problems = []
    for spec in specs:
        try:
            parse_tracker(spec)
        except TrackerError as exc:
            problems.append(f"tagger.trackers: {exc}")
    return problems


def load_config(path: Path) -> Config:
    """Read and validate a TOML config file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_config(data)


def render_toml(config: Config, *, with_docs: bool = True) -> str:
    """Write a config back as TOML, each key preceded by its description."""
    lines: list[str] = []
    current = ""
    for name, item in iter_fields():
        section, key = name.split(".")
        if section != current:
            lines.append(("\n" if lines else "") + f"[{section}]")
            current = section
        if with_docs:
            lines.append(f"# {item.metadata['doc']}")
        lines.append(f"{key} = {toml_value(getattr(getattr(config, section), key))}")
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)
