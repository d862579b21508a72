"""A local Hugging Face Hub endpoint that the real `huggingface_hub` client can download from.

No hub is reachable in the tests, so they serve tiny model repos they build themselves.
Point the client at it with `HF_ENDPOINT=<hub.url>` (or `endpoint=hub.url`), and `hf download`,
`snapshot_download`, `hf_hub_download` and `from_pretrained` work as against huggingface.co.

What is implemented, as huggingface_hub 2.4.0 calls it:

- `GET /api/{models,datasets}/{repo}[/revision/{rev}]`: repo info with `sha` and
  `siblings` (with sizes, blob ids and LFS data when `blobs=true`), `pipeline_tag`.
- `GET /api/{type}s/{repo}/tree/{rev}[/{path}]?recursive=&expand=`: the file listing
  `snapshot_download` filters, paginated with a `Link: <...>; rel="next"` header.
- `POST /api/{type}s/{repo}/paths-info/{rev}`: `get_paths_info`.
- `HEAD`/`GET /[datasets/]{repo}/resolve/{rev}/{path}`: regular files are served directly
  with `ETag` (git blob sha1), `X-Repo-Commit` and `Content-Length`; LFS files answer
  `302` to a second "CDN" server on another port with `X-Linked-Etag` (sha256) and
  `X-Linked-Size`, as the hub does, so the client takes the metadata from the redirect
  and downloads from the CDN without following it during HEAD.
- `Range` requests (resumed downloads) on both servers.
- Errors with the hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`,
  `EntryNotFound` with `X-Repo-Commit`, so the client caches the file's absence and an
  offline load later finds the `.no_exist` marker instead of failing).
- `GET /api/agent-harnesses`: an empty registry (the client's telemetry asks for it).
- Renamed repos (`aliases`) answer `307` to the canonical path, like `gpt2` ->
  `openai-community/gpt2`.

Each repo has one fixed commit sha; branch and tag names in `refs` and any prefix of at
least 7 hex digits of the sha resolve to it. Every request is recorded (`hub.requests`), so
tests can assert which files were fetched and benchmarks can count bytes.

The servers bind loopback only. From `docker build --network host` the build shares the
host's loopback, so the same URL works there.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import socket
import struct
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

# Patterns a repo's .gitattributes usually sends to LFS.
LFS_PATTERNS = (
    "*.safetensors",
    "*.bin",
    "*.onnx",
    "*.h5",
    "*.msgpack",
    "*.ckpt",
    "*.pt",
    "*.gguf",
    "*.onnx_data",
)
_DATE = "2024-05-01T12:00:00.000Z"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class TinyRepo:
    """A repo the server serves: files by path, one commit, optional branch/tag names."""

    repo_id: str
    files: dict[str, bytes]
    sha: str = ""
    refs: dict[str, str] = field(default_factory=dict)
    repo_type: str = "model"
    aliases: tuple[str, ...] = ()
    pipeline_tag: str | None = "feature-extraction"
    library_name: str | None = "transformers"

    def __post_init__(self) -> None:
        if not self.sha:
            self.sha = hashlib.sha1(f"{self.repo_type}:{self.repo_id}".encode()).hexdigest()
        if not re.fullmatch(r"[0-9a-f]{40}", self.sha):
            raise ValueError(f"commit sha must be 40 hex digits, got {self.sha!r}")
        self.refs.setdefault("main", self.sha)

    def is_lfs(self, path: str) -> bool:
        return any(fnmatch(path.rsplit("/", 1)[-1], pattern) for pattern in LFS_PATTERNS)

    def resolve(self, revision: str) -> str | None:
        if revision in self.refs:
            return self.refs[revision]
        if (
            len(revision) >= 7
            and re.fullmatch(r"[0-9a-f]+", revision)
            and self.sha.startswith(revision)
        ):
            return self.sha
        return None

    def directories(self) -> list[str]:
        found = {
            "/".join(path.split("/")[:i])
            for path in self.files
            for i in range(1, path.count("/") + 1)
        }
        return sorted(found)

    def entry(self, path: str, *, expand: bool = False) -> dict[str, object]:
        """A tree / paths-info entry, as the hub's API returns it."""
        if path in self.files:
            data = self.files[path]
            item: dict[str, object] = {
                "type": "file",
                "oid": git_blob_sha1(data),
                "size": len(data),
                "path": path,
            }
            if self.is_lfs(path):
                item["lfs"] = {
                    "oid": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "pointerSize": 134,
                }
        else:
            item = {
                "type": "directory",
                "oid": hashlib.sha1(path.encode()).hexdigest(),
                "size": 0,
                "path": path,
            }
        if expand:
            item["lastCommit"] = {"id": self.sha, "title": "Upload tiny model", "date": _DATE}
        return item

    def info(self, *, blobs: bool) -> dict[str, object]:
        siblings: list[dict[str, object]] = []
        for path in sorted(self.files):
            sibling: dict[str, object] = {"rfilename": path}
            if blobs:
                data = self.files[path]
                sibling["size"] = len(data)
                sibling["blobId"] = git_blob_sha1(data)
                if self.is_lfs(path):
                    sibling["lfs"] = {
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "pointerSize": 134,
                    }
            siblings.append(sibling)
        author = self.repo_id.split("/")[0] if "/" in self.repo_id else None
        return {
            "_id": hashlib.md5(self.repo_id.encode()).hexdigest()[:24],
            "id": self.repo_id,
            "modelId": self.repo_id,
            "author": author,
            "sha": self.sha,
            "lastModified": _DATE,
            "createdAt": _DATE,
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [self.library_name] if self.library_name else [],
            "pipeline_tag": self.pipeline_tag,
            "library_name": self.library_name,
            "siblings": siblings,
            "usedStorage": sum(len(data) for data in self.files.values()),
        }


# -- a tiny model repo -----------------------------------------------------------------------

_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "hello",
    "world",
    "the",
    "a",
    "model",
    "is",
    "baked",
    "in",
    "image",
    ".",
    ",",
]


def tiny_safetensors(tensors: dict[str, tuple[int, ...]], *, fill: int = 0) -> bytes:
    """A valid safetensors file of F32 tensors with the given shapes."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + 4 * count],
        }
        offset += 4 * count
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    body = bytes([fill % 256]) * offset
    return struct.pack("<Q", len(encoded)) + encoded + body


def tiny_tokenizer_json() -> bytes:
    """A `tokenizers` WordLevel tokenizer over a 16-token vocabulary."""
    specials = [
        {
            "id": i,
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, token in enumerate(_VOCAB[:5])
    ]
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": specials,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": None,
        "model": {
            "type": "WordLevel",
            "vocab": {token: i for i, token in enumerate(_VOCAB)},
            "unk_token": "[UNK]",
        },
    }
    return json.dumps(spec, indent=1).encode()


def tiny_model_repo(
    repo_id: str = "org/tiny-model",
    *,
    sha: str = "",
    weights_size: int = 4096,
    extra_formats: bool = True,
    extra_size: int = 65536,
) -> TinyRepo:
    """A BERT-shaped repo: config, tokenizer files, `model.safetensors`, and (by default) the
    other formats a real repo carries and a baking fix must not download: ONNX, OpenVINO,
    PyTorch `.bin`, TensorFlow `.h5`, Flax `.msgpack`.

    `weights_size` (bytes of the safetensors data) and `extra_size` let benchmarks make the
    difference between a filtered and an unfiltered download visible.
    """
    hidden = 8
    rows = max(1, weights_size // (4 * hidden))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": len(_VOCAB),
        "hidden_size": hidden,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 16,
        "max_position_embeddings": 32,
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 32,
        "unk_token": "[UNK]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    special = {key: value for key, value in tokenizer_config.items() if key.endswith("_token")}
    files: dict[str, bytes] = {
        ".gitattributes": "".join(
            f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS
        ).encode(),
        "README.md": f"# {repo_id}\n\nA tiny model for mlfix tests.\n".encode(),
        "config.json": json.dumps(config, indent=2).encode(),
        "tokenizer.json": tiny_tokenizer_json(),
        "tokenizer_config.json": json.dumps(tokenizer_config, indent=2).encode(),
        "special_tokens_map.json": json.dumps(special, indent=2).encode(),
        "vocab.txt": ("\n".join(_VOCAB) + "\n").encode(),
        "model.safetensors": tiny_safetensors(
            {"embeddings.word_embeddings.weight": (rows, hidden)}
        ),
    }
    if extra_formats:
        blob = bytes(range(256)) * max(1, extra_size // 256)
        files.update(
            {
                "onnx/model.onnx": b"ONNX" + blob,
                "onnx/model_quantized.onnx": b"ONNXQ" + blob[: len(blob) // 4],
                "openvino/openvino_model.xml": b"<?xml version='1.0'?><net name='tiny'/>\n",
                "openvino/openvino_model.bin": b"OV" + blob,
                "pytorch_model.bin": b"PK" + blob,
                "tf_model.h5": b"\x89HDF\r\n\x1a\n" + blob,
                "flax_model.msgpack": b"\x81" + blob,
            }
        )
    return TinyRepo(repo_id, files, sha=sha)


# -- recording -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request the servers answered. `file` is set when a repo file's body was sent."""

    server: str
    method: str
    path: str
    status: int
    sent: int
    repo_id: str | None = None
    file: str | None = None
    range: str | None = None


class Hub:
    """A running endpoint: `url` for HF_ENDPOINT, `requests` as recorded."""

    def __init__(
        self, repos: Iterable[TinyRepo], host: str, port: int, *, tree_page_size: int
    ) -> None:
        if host == "localhost":
            host = "127.0.0.1"
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the test hub binds loopback only, not {host}")
        self.repos: dict[tuple[str, str], TinyRepo] = {}
        self.aliases: dict[tuple[str, str], TinyRepo] = {}
        self.blobs: dict[str, tuple[TinyRepo, str]] = {}
        for repo in repos:
            self.add(repo)
        self.tree_page_size = tree_page_size
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._hub = _Server((host, port), _Handler, self, "hub")
        self._cdn = _Server((host, 0), _Handler, self, "cdn")
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self._hub.server_address[1]}"
        self.cdn_url = f"http://{shown}:{self._cdn.server_address[1]}"
        self._threads: list[threading.Thread] = []

    def add(self, repo: TinyRepo) -> None:
        self.repos[(repo.repo_type, repo.repo_id)] = repo
        for alias in repo.aliases:
            self.aliases[(repo.repo_type, alias)] = repo
        for path, data in repo.files.items():
            if repo.is_lfs(path):
                self.blobs.setdefault(hashlib.sha256(data).hexdigest(), (repo, path))

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> None:
        for server in (self._hub, self._cdn):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- what the tests ask ---------------------------------------------------------------

    def fetched(self, repo_id: str | None = None) -> list[str]:
        """Repo files whose content was sent (regular files from the hub, LFS from the CDN)."""
        with self._lock:
            return [
                r.file
                for r in self.requests
                if r.file is not None
                and r.method == "GET"
                and (repo_id is None or r.repo_id == repo_id)
            ]

    def bytes_sent(self, repo_id: str | None = None) -> int:
        with self._lock:
            return sum(
                r.sent
                for r in self.requests
                if r.file is not None and (repo_id is None or r.repo_id == repo_id)
            )

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


@contextmanager
def serve(
    repos: Iterable[TinyRepo], host: str = "127.0.0.1", port: int = 0, *, tree_page_size: int = 1000
) -> Iterator[Hub]:
    """Run the endpoint for the `with` block; `port=0` picks a free port."""
    hub = Hub(repos, host, port, tree_page_size=tree_page_size)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


# -- HTTP ------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], hub: Hub, role: str
    ) -> None:
        self.hub = hub
        self.role = role
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


_API = re.compile(r"^/api/(models|datasets)/(.+)$")
_RESOLVE = re.compile(r"^/(?:(datasets)/)?(.+?)/resolve/([^/]+)/(.+)$")


class _Reply(Exception):
    """Raised to answer with an error status and hub error headers."""

    def __init__(
        self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mlfix-test-hub/1"
    timeout = 10  # idle keep-alive connections end, so the threads do too
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the tests read `hub.requests` instead

    # -- plumbing ------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self._repo_id: str | None = None
        self._file: str | None = None
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        try:
            if self.server.role == "cdn":
                self._cdn(method)
            else:
                self._hub(method)
        except _Reply as reply:
            body = json.dumps({"error": reply.message}).encode()
            headers = {"Content-Type": "application/json", **reply.headers}
            if reply.code:
                headers["X-Error-Code"] = reply.code
                headers["X-Error-Message"] = reply.message
            self._send(method, reply.status, body, headers)

    def _send(
        self,
        method: str,
        status: int,
        body: bytes,
        headers: dict[str, str],
        *,
        record_file: bool = False,
    ) -> None:
        sent = len(body) if method != "HEAD" else 0
        # Recorded before answering, so a client that has its answer sees the record.
        self.server.hub.record(
            Request(
                self.server.role,
                method,
                self.path,
                status,
                sent,
                self._repo_id,
                self._file if record_file and method == "GET" else None,
                self.headers.get("Range"),
            )
        )
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if sent:
            self.wfile.write(body)

    def _json(self, method: str, data: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self._send(method, 200, body, {"Content-Type": "application/json", **(headers or {})})

    def _find(self, repo_type: str, rest: str) -> tuple[TinyRepo, str, str]:
        """(repo, the id as requested, the path after it) for `org/name/...` or `name/...`."""
        hub = self.server.hub
        for table in (hub.repos, hub.aliases):
            for (kind, repo_id), repo in sorted(table.items(), key=lambda item: -len(item[0][1])):
                if kind == repo_type and (rest == repo_id or rest.startswith(repo_id + "/")):
                    self._repo_id = repo.repo_id
                    return repo, repo_id, rest[len(repo_id) :]
        raise _Reply(404, "RepoNotFound", "Repository not found")

    def _revision(self, repo: TinyRepo, revision: str) -> str:
        commit = repo.resolve(unquote(revision))
        if commit is None:
            raise _Reply(404, "RevisionNotFound", f"Invalid rev id: {unquote(revision)}")
        return commit

    # -- the hub -------------------------------------------------------------------------

    def _hub(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        if method == "GET" and path == "/api/agent-harnesses":
            # huggingface_hub's best-effort telemetry registry; an empty one disables it.
            self._json(method, {"standardEnvVars": [], "harnesses": {}})
            return
        api = _API.match(parts.path)
        if api:
            repo_type = "model" if api.group(1) == "models" else "dataset"
            repo, _, rest = self._find(repo_type, unquote(api.group(2)))
            self._api(method, repo, rest, query)
            return
        resolve = _RESOLVE.match(parts.path)
        if resolve and method in ("GET", "HEAD"):
            repo_type = "dataset" if resolve.group(1) else "model"
            repo, requested, _ = self._find(repo_type, unquote(resolve.group(2)))
            if requested != repo.repo_id:
                prefix = "/datasets" if repo_type == "dataset" else ""
                location = f"{prefix}/{repo.repo_id}/resolve/{resolve.group(3)}/{resolve.group(4)}"
                self._send(method, 307, b"", {"Location": location})
                return
            self._resolve(method, repo, resolve.group(3), unquote(resolve.group(4)))
            return
        raise _Reply(404, None, f"no such endpoint: {method} {path}")

    def _api(self, method: str, repo: TinyRepo, rest: str, query: dict[str, list[str]]) -> None:
        if method == "GET" and rest in ("", "/"):
            self._json(method, repo.info(blobs=_flag(query, "blobs")))
            return
        match = re.fullmatch(r"/revision/([^/]+)", rest)
        if method == "GET" and match:
            commit = self._revision(repo, match.group(1))
            info = repo.info(blobs=_flag(query, "blobs"))
            info["sha"] = commit
            self._json(method, info)
            return
        match = re.fullmatch(r"/tree/([^/]+)(?:/(.*))?", rest)
        if method == "GET" and match:
            self._revision(repo, match.group(1))
            self._tree(method, repo, (match.group(2) or "").strip("/"), query)
            return
        match = re.fullmatch(r"/paths-info/([^/]+)", rest)
        if method == "POST" and match:
            self._revision(repo, match.group(1))
            form = parse_qs(self._body.decode())
            wanted = form.get("paths", [])
            expand = _flag(form, "expand")
            known = set(repo.files) | set(repo.directories())
            self._json(method, [repo.entry(p, expand=expand) for p in wanted if p in known])
            return
        raise _Reply(404, None, f"no such endpoint: {method} {self.path}")

    def _tree(self, method: str, repo: TinyRepo, base: str, query: dict[str, list[str]]) -> None:
        recursive = _flag(query, "recursive")
        expand = _flag(query, "expand")
        if base and base not in repo.directories():
            raise _Reply(
                404, "EntryNotFound", f"{base} does not exist", {"X-Repo-Commit": repo.sha}
            )
        prefix = f"{base}/" if base else ""
        names = sorted({*repo.files, *repo.directories()})
        entries = []
        for name in names:
            if not name.startswith(prefix):
                continue
            relative = name[len(prefix) :]
            if recursive or "/" not in relative:
                entries.append(repo.entry(name, expand=expand))
        start = int(query.get("cursor", ["0"])[0])
        page = entries[start : start + self.server.hub.tree_page_size]
        headers: dict[str, str] = {}
        if start + len(page) < len(entries):
            nxt = dict(query)
            nxt["cursor"] = [str(start + len(page))]
            encoded = "&".join(f"{k}={quote(v[0])}" for k, v in nxt.items())
            headers["Link"] = (
                f'<{self.server.hub.url}{urlsplit(self.path).path}?{encoded}>; rel="next"'
            )
        self._json(method, page, headers)

    def _resolve(self, method: str, repo: TinyRepo, revision: str, filename: str) -> None:
        commit = self._revision(repo, revision)
        if filename not in repo.files:
            raise _Reply(
                404, "EntryNotFound", f"{filename} does not exist", {"X-Repo-Commit": commit}
            )
        data = repo.files[filename]
        self._file = filename
        headers = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes"}
        if repo.is_lfs(filename):
            sha256 = hashlib.sha256(data).hexdigest()
            cdn = self.server.hub.cdn_url
            headers.update(
                {
                    "Location": f"{cdn}/blobs/{sha256}?filename={quote(filename)}",
                    "X-Linked-Etag": f'"{sha256}"',
                    "X-Linked-Size": str(len(data)),
                    "ETag": f'"{git_blob_sha1(data)}"',
                }
            )
            self._send(method, 302, b"", headers)
            return
        headers.update(
            {"ETag": f'"{git_blob_sha1(data)}"', "Content-Type": "application/octet-stream"}
        )
        self._ranged(method, data, headers)

    def _ranged(self, method: str, data: bytes, headers: dict[str, str]) -> None:
        requested = self.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", requested or "")
        if match:
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) else len(data) - 1
            if first >= len(data):
                raise _Reply(
                    416, None, "range not satisfiable", {"Content-Range": f"bytes */{len(data)}"}
                )
            last = min(last, len(data) - 1)
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            self._send(method, 206, data[first : last + 1], headers, record_file=True)
            return
        self._send(method, 200, data, headers, record_file=True)

    # -- the CDN -------------------------------------------------------------------------

    def _cdn(self, method: str) -> None:
        match = re.fullmatch(r"/blobs/([0-9a-f]{64})", urlsplit(self.path).path)
        if (
            method not in ("GET", "HEAD")
            or not match
            or match.group(1) not in self.server.hub.blobs
        ):
            raise _Reply(404, None, "no such blob")
        repo, path = self.server.hub.blobs[match.group(1)]
        self._repo_id, self._file = repo.repo_id, path
        data = repo.files[path]
        headers = {
            "ETag": f'"{match.group(1)}"',
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        self._ranged(method, data, headers)


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[-1].lower() in ("1", "true", "yes")
