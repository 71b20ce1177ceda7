"""What must never be shown: the request's secrets in every form a job API may echo them, and their removal from
its decoded answer. Pure functions of the secrets and the answer.

A server that echoes a key or a signature may change its case (a hex signature upper-cased), URL-encode it (a token
holds '+', '/' and '='), or base64-encode it inside a longer text, where it starts at any of three byte
alignments. Each form is matched whatever its case.
"""

import base64
import re
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
# A base64 form shorter than this could be an ordinary word: a secret this short is only matched as it is.
_MIN_ENCODED = 12


def _base64_forms(secret: str) -> list[str]:
    """The base64 characters that stand for `secret` wherever it starts in an encoded text: for each of the three
    alignments, the groups that hold only the secret's bytes (standard and URL-safe alphabets)."""
    raw = secret.encode("utf-8")
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        whole = encoded[4 if offset else 0:(offset + len(raw)) // 3 * 4]
        if len(whole) >= _MIN_ENCODED:
            forms += [whole, whole.replace("+", "-").replace("/", "_")]
    return forms


@lru_cache(maxsize=16)  # an instance signs with the same keys for hours: their forms are made once
def forms(secret: str) -> tuple[str, ...]:
    """Every form of `secret` to redact, lower-cased."""
    spelled = {secret}
    if not secret.isalnum():  # URL-encoding changes only what is not a letter or a digit
        spelled |= {quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, safe="/")}
    return tuple({form.lower() for form in [*spelled, *_base64_forms(secret)]})


class Secrets(NamedTuple):
    """The secrets of one request, in every form to redact (lower-cased)."""

    forms: tuple[str, ...]

    @classmethod
    def of(cls, *secrets: str) -> "Secrets":
        return cls(tuple(form for secret in secrets if secret for form in forms(secret)))

    def found_in(self, text: str) -> bool:
        lowered = text.lower()
        return any(form in lowered for form in self.forms)

    def redacted(self, value: Any) -> Any:
        """Decoded JSON with every form of every secret replaced."""
        if isinstance(value, str):
            if not self.found_in(value):
                return value
            longest_first = sorted(set(self.forms), key=len, reverse=True)  # a form never cut by one inside it
            return re.sub("|".join(map(re.escape, longest_first)), REDACTED, value, flags=re.IGNORECASE)
        if isinstance(value, list):
            return [self.redacted(item) for item in value]
        if isinstance(value, dict):
            return {self.redacted(key): self.redacted(item) for key, item in value.items()}
        return value

    def redacted_json(self, text: str, data: Any) -> Any:
        """`data`, decoded from the JSON `text`, redacted. A text without escapes holds each decoded string as it
        is, so when no form is in it the tree needs no walk."""
        if "\\" not in text and not self.found_in(text):
            return data
        return self.redacted(data)
