"""A strict parser of the Prometheus text exposition format 0.0.4, for the tests.

``prometheus_client`` is not a dependency; when it is importable the tests parse with it
as well. This one is stricter than Prometheus itself where the service promises more:
every family has ``# HELP`` and ``# TYPE`` before its samples, families are contiguous,
counters end in ``_total``, histogram buckets are cumulative and end with ``+Inf`` equal
to ``_count``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_HELP = re.compile(rf"^# HELP ({_NAME}) (.*)$")
_TYPE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")
_SAMPLE_NAME = re.compile(rf"^({_NAME})")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_VALUE = re.compile(r"^[+-]?(Inf|NaN|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)$")


class ExpositionError(ValueError):
    pass


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Family:
    name: str
    type: str = ""
    help: str | None = None
    samples: list[Sample] = field(default_factory=list)

    def value(self, **labels: str) -> float:
        """The value of the one sample named like the family with these labels."""
        found = [s.value for s in self.samples if s.labels == labels]
        if len(found) != 1:
            raise KeyError(f"{self.name}{labels}: {len(found)} samples")
        return found[0]

    def by(self, label: str) -> dict[str, float]:
        return {s.labels[label]: s.value for s in self.samples if s.name == self.name}


def _unescape_help(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt == "\\":
                out.append("\\")
            elif nxt == "n":
                out.append("\n")
            else:
                raise ExpositionError(f"bad escape in HELP: {text!r}")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _labels(text: str, pos: int) -> tuple[dict[str, str], int]:
    """Parse ``{a="b",...}`` from ``text[pos] == "{"``; (labels, position after ``}``)."""
    labels: dict[str, str] = {}
    pos += 1
    while True:
        if text[pos : pos + 1] == "}":
            return labels, pos + 1
        m = _LABEL_NAME.match(text, pos)
        if not m:
            raise ExpositionError(f"bad label name at {pos}: {text!r}")
        name = m.group(0)
        pos = m.end()
        if text[pos : pos + 2] != '="':
            raise ExpositionError(f'expected =" after {name}: {text!r}')
        pos += 2
        value = []
        while True:
            if pos >= len(text):
                raise ExpositionError(f"unterminated label value: {text!r}")
            c = text[pos]
            if c == "\\":
                nxt = text[pos + 1 : pos + 2]
                if nxt not in ('"', "\\", "n"):
                    raise ExpositionError(f"bad escape in a label value: {text!r}")
                value.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise ExpositionError(f"raw newline in a label value: {text!r}")
            else:
                value.append(c)
                pos += 1
        if name in labels:
            raise ExpositionError(f"label {name} twice: {text!r}")
        labels[name] = "".join(value)
        if text[pos : pos + 1] == ",":
            pos += 1
        elif text[pos : pos + 1] != "}":
            raise ExpositionError(f"expected , or }} at {pos}: {text!r}")


def _float(text: str) -> float:
    if not _VALUE.match(text):
        raise ExpositionError(f"bad sample value {text!r}")
    return float(text.replace("Inf", "inf").replace("NaN", "nan"))


def _family_of(sample: str, families: dict[str, Family]) -> Family | None:
    if sample in families:
        return families[sample]
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix):
            fam = families.get(sample[: -len(suffix)])
            if fam is not None and fam.type == "histogram":
                return fam
    return None


def parse(text: str) -> dict[str, Family]:
    """Every family of an exposition (see the module); raises ExpositionError."""
    if not text.endswith("\n"):
        raise ExpositionError("the exposition must end with a newline")
    families: dict[str, Family] = {}
    done: set[str] = set()  # families whose samples ended (no more allowed)
    current: str | None = None
    for line in text[:-1].split("\n"):
        if not line:
            raise ExpositionError("empty line")
        if line.startswith("#"):
            m = _HELP.match(line) or _TYPE.match(line)
            if m is None:
                raise ExpositionError(f"bad comment line {line!r}")
            name = m.group(1)
            if name in done or (name in families and families[name].samples):
                raise ExpositionError(f"{name}: HELP/TYPE after its samples")
            fam = families.setdefault(name, Family(name))
            if current is not None and current != name:
                done.add(current)
            current = name
            if line.startswith("# HELP"):
                if fam.help is not None:
                    raise ExpositionError(f"{name}: two HELP lines")
                fam.help = _unescape_help(m.group(2))
            else:
                if fam.type:
                    raise ExpositionError(f"{name}: two TYPE lines")
                fam.type = m.group(2)
            continue
        m = _SAMPLE_NAME.match(line)
        if m is None:
            raise ExpositionError(f"bad sample line {line!r}")
        sample_name = m.group(1)
        pos = m.end()
        labels: dict[str, str] = {}
        if line[pos : pos + 1] == "{":
            labels, pos = _labels(line, pos)
        rest = line[pos:]
        if not rest.startswith(" "):
            raise ExpositionError(f"expected a space before the value: {line!r}")
        parts = rest[1:].split(" ")
        if len(parts) not in (1, 2):
            raise ExpositionError(f"bad value/timestamp: {line!r}")
        value = _float(parts[0])
        fam = _family_of(sample_name, families)
        if fam is None or not fam.type or fam.help is None:
            raise ExpositionError(f"sample {sample_name} before its HELP and TYPE")
        if fam.name in done or current != fam.name:
            raise ExpositionError(f"{fam.name}: its samples are not contiguous")
        fam.samples.append(Sample(sample_name, labels, value))
    for fam in families.values():
        _check(fam)
    return families


def _check(fam: Family) -> None:
    if not fam.name.startswith("rdaplab_"):
        raise ExpositionError(f"{fam.name}: not prefixed rdaplab_")
    if fam.type == "counter":
        if not fam.name.endswith("_total"):
            raise ExpositionError(f"counter {fam.name} does not end in _total")
        for s in fam.samples:
            if s.value < 0 or math.isnan(s.value):
                raise ExpositionError(f"counter {fam.name} has value {s.value}")
    elif fam.name.endswith("_total"):
        raise ExpositionError(f"{fam.name} ends in _total but is a {fam.type}")
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for s in fam.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        if key in seen:
            raise ExpositionError(f"{fam.name}: duplicate sample {key}")
        seen.add(key)
    if fam.type == "histogram":
        series: dict[tuple[tuple[str, str], ...], dict[str, list[Sample]]] = {}
        for s in fam.samples:
            base = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(base, {}).setdefault(s.name[len(fam.name) :], []).append(s)
        for base, parts in series.items():
            buckets = parts.get("_bucket", [])
            if not buckets or "_sum" not in parts or "_count" not in parts:
                raise ExpositionError(f"{fam.name}{base}: needs _bucket, _sum and _count")
            bounds = [_float(b.labels["le"]) for b in buckets]
            if bounds != sorted(bounds) or bounds[-1] != math.inf:
                raise ExpositionError(f"{fam.name}{base}: buckets not sorted or no +Inf")
            counts = [b.value for b in buckets]
            if any(b > a for a, b in zip(counts[1:], counts, strict=False)):
                raise ExpositionError(f"{fam.name}{base}: buckets are not cumulative")
            if counts[-1] != parts["_count"][0].value:
                raise ExpositionError(f"{fam.name}{base}: +Inf bucket != _count")
