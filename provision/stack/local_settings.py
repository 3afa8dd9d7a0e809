"""The local stack's files: secrets in credentials.env (generated once, 0600) and settings in
stack.env (heap, locale, images, ports, Kibana or not; rewritten by every `up`), and where
compose.yaml and the sample data live.

compose.yaml ships inside the package (``provision/compose.yaml``, package data), so a
``pip install``-ed ctstack runs the same file as a checkout; ``ctstack status`` prints its path.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from provision.core import settings
from provision.core.connection import read_env_file
from provision.core.errors import CtstackError


# Secrets in credentials.env: generated once, never rewritten (the data volume and Kibana's
# encrypted saved objects depend on them staying the same).
SECRET_NAMES = (
    "ELASTIC_PASSWORD",
    "KIBANA_SYSTEM_PASSWORD",
    "KIBANA_ENCRYPTED_SAVED_OBJECTS_KEY",
    "KIBANA_SECURITY_KEY",
    "KIBANA_REPORTING_KEY",
)
# Non-secret settings in stack.env, rewritten by every `up`. KIBANA_ENABLED is ctstack's own
# (false after `up --no-kibana`: status, provision and the next steps leave Kibana out).
STACK_ENV_NAMES = ("STACK_VERSION", "ES_IMAGE", "KIBANA_IMAGE", "ES_PORT", "KIBANA_PORT", "ES_HEAP", "KIBANA_LOCALE", "KIBANA_ENABLED")

_HEAP = re.compile(r"^[1-9][0-9]*[mMgG]$")
_LOCALE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
# An image reference as Docker spells one ([registry[:port]/]name[:tag][@digest]); nothing that
# could end a line of stack.env, start an option or be interpolated by Compose.
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$")


def compose_file() -> Path:
    """The compose.yaml shipped with the package."""
    return Path(str(resources.files("provision").joinpath("compose.yaml")))


def sample_dir() -> Path:
    """Where `ctstack up --sample` writes the generated demo data (re-importing it is a no-op)."""
    return settings.ctstack_home() / "sample"




def ensure_credentials(path: Path | None = None) -> bool:
    """Create the 0600 credentials file with fresh secrets unless it exists; True if created.

    An existing file is never rewritten: a secret it lacks (a file from an older ctstack) is
    appended, and its mode is tightened to 0600.
    """
    path = path or settings.credentials_file()
    _private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        missing = [name for name in SECRET_NAMES if not read_env_file(path).get(name)]
        if missing:
            with open(path, "a", encoding="utf-8") as existing:
                existing.write("".join(f"{name}={_new_secret()}\n" for name in missing))
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as new:
        os.fchmod(new.fileno(), 0o600)  # whatever the umask
        new.write("# Written once by `ctstack up`; the local stack's secrets. Keep it private (mode 0600).\n")
        new.write(f"# Log in to Kibana as {settings.LOCAL_ES_USER} with ELASTIC_PASSWORD.\n")
        new.write("".join(f"{name}={_new_secret()}\n" for name in SECRET_NAMES))
    return True


def _new_secret() -> str:
    # 32 random bytes -> 43 URL-safe characters: no quoting needed in env files, shells or JSON,
    # and long enough for Kibana's 32-character minimum on encryption keys.
    return secrets.token_urlsafe(32)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


@dataclass(frozen=True)
class StackSettings:
    """The non-secret knobs of the local stack (stack.env)."""

    version: str = settings.STACK_VERSION
    es_image: str = settings.OFFICIAL_ES_IMAGE
    kibana_image: str = settings.OFFICIAL_KIBANA_IMAGE
    es_port: int = 9200
    kibana_port: int = 5601
    es_heap: str = settings.DEFAULT_ES_HEAP
    kibana_locale: str = settings.DEFAULT_KIBANA_LOCALE
    kibana: bool = True

    def as_env(self) -> dict[str, str]:
        return dict(zip(STACK_ENV_NAMES, (self.version, self.es_image, self.kibana_image, str(self.es_port), str(self.kibana_port),
                                          self.es_heap, self.kibana_locale, "true" if self.kibana else "false")))


def resolve_stack_settings(es_heap: str | None = None, kibana_locale: str | None = None, *, es_image: str | None = None,
                           kibana_image: str | None = None, kibana: bool = True) -> StackSettings:
    """This run's settings: options given now > env (images: CTSTACK_ES_IMAGE, CTSTACK_KIBANA_IMAGE)
    > what the last `up` used (stack.env) > defaults. The version and ports always come from
    :mod:`provision.core.settings`; ``kibana`` is this run's choice (``up --no-kibana``)."""
    previous = read_env_file(settings.stack_env_file())
    heap = es_heap or previous.get("ES_HEAP") or settings.DEFAULT_ES_HEAP
    locale = kibana_locale or previous.get("KIBANA_LOCALE") or settings.DEFAULT_KIBANA_LOCALE
    if not _HEAP.match(heap):
        raise CtstackError(f"--es-heap {heap!r} is not a heap size; use a number with m or g, e.g. 1g or 512m.")
    if not _LOCALE.match(locale):
        raise CtstackError(f"--kibana-locale {locale!r} is not a locale; use e.g. en, ja-JP, zh-CN or fr-FR.")
    images = {}
    for key, given, env, default in (("ES_IMAGE", es_image, settings.ES_IMAGE_ENV, settings.OFFICIAL_ES_IMAGE),
                                     ("KIBANA_IMAGE", kibana_image, settings.KIBANA_IMAGE_ENV, settings.OFFICIAL_KIBANA_IMAGE)):
        image = given or os.environ.get(env) or previous.get(key) or default
        if not _IMAGE.match(image):
            option = "--" + key.lower().replace("_", "-")
            raise CtstackError(f"{option} {image!r} is not an image name; use e.g. registry.example.com/elastic/elasticsearch:{settings.STACK_VERSION}.")
        images[key] = image
    return StackSettings(
        es_image=images["ES_IMAGE"], kibana_image=images["KIBANA_IMAGE"],
        es_port=_port(settings.LOCAL_ES_URL), kibana_port=_port(settings.LOCAL_KIBANA_URL),
        es_heap=heap.lower(), kibana_locale=locale, kibana=kibana,
    )


def local_kibana_enabled() -> bool:
    """Whether the local stack runs Kibana (false after `ctstack up --no-kibana`)."""
    return read_env_file(settings.stack_env_file()).get("KIBANA_ENABLED", "true") != "false"


def write_stack_env(stack_settings: StackSettings, path: Path | None = None) -> Path:
    path = path or settings.stack_env_file()
    _private_dir(path.parent)
    text = "# Rewritten by every `ctstack up`; not secret.\n" + "".join(f"{k}={v}\n" for k, v in stack_settings.as_env().items())
    path.write_text(text, encoding="utf-8")
    return path


def _port(url: str) -> int:
    return urlsplit(url).port or 80
