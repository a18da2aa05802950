"""OpenID Connect bearer tokens: checked against a JWKS served by a local HTTP server
whose keys rotate during the test, and refused when forged, expired, for another
audience or issuer, signed with a key the issuer never had, or with a disallowed
algorithm; then through the gRPC door of a real ``logway serve --auth``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import logway
from logway.auth import Acl, AuthStore
from logway.auth.oidc import OidcVerifier
from logway.errors import AuthenticationError, InvalidArgumentError, PermissionDeniedError
from tests.servers import LogwayServer

ISSUER = "https://issuer.example/pool-1"
AUDIENCE = "logway-clients"


class Issuer:
    """An identity provider: signing keys by key id, and a JWKS endpoint."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.published: list[str] = []
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def add_key(self, kid: str, kind: str = "rsa", publish: bool = True) -> None:
        if kind == "rsa":
            self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        if publish:
            self.published.append(kid)

    def rotate(self, new_kid: str) -> None:
        """Publish a new key and retire every old one."""
        self.add_key(new_kid, publish=False)
        self.published = [new_kid]

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid in self.published:
            key = self.keys[kid]
            algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else None
            if algorithm is None:
                public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
                public["alg"] = "ES256"
            else:
                public = json.loads(algorithm.to_jwk(key.public_key()))
                public["alg"] = "RS256"
            public.update(kid=kid, use="sig")
            out.append(public)
        return {"keys": out}

    def token(self, kid: str, signer: str | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "ada",
            "cognito:groups": ["authors", "readers"],
            "iat": now,
            "exp": now + 300,
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.keys[signer or kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    found.add_key("k1")
    found.add_key("ec1", kind="ec")
    yield found
    found.close()


def verifier(issuer: Issuer, **options: Any) -> OidcVerifier:
    settings: dict[str, Any] = {
        "jwks_url": issuer.url,
        "audience": AUDIENCE,
        "groups_claim": "cognito:groups",
        "leeway_s": 60,
    }
    return OidcVerifier(ISSUER, **{**settings, **options})


def test_a_valid_token_names_its_user_and_groups(issuer: Issuer) -> None:
    check = verifier(issuer)
    claims = check.verify(issuer.token("k1"))
    assert claims.principal == "User:ada"
    assert claims.groups == {"authors", "readers"}
    assert claims.expires_ms > time.time() * 1000
    assert check.verify(issuer.token("ec1")).principal == "User:ada"  # ES256 too
    assert issuer.fetches == 1  # the keys were read once and kept


def _refused(check: OidcVerifier, token: str, reason: str) -> None:
    with pytest.raises(AuthenticationError) as refused:
        check.verify(token)
    assert reason in str(refused.value)
    assert token not in str(refused.value)


def test_what_the_issuer_did_not_sign_or_mean_for_us_is_refused(issuer: Issuer) -> None:
    check = verifier(issuer)
    issuer.add_key("attacker", publish=False)
    now = int(time.time())
    _refused(check, issuer.token("k1", signer="attacker"), "invalid JWT")  # forged
    _refused(check, issuer.token("k1", exp=now - 120), "expired")
    _refused(check, issuer.token("k1", aud="someone-else"), "another audience")
    _refused(check, issuer.token("k1", iss="https://evil.example"), "another issuer")
    _refused(check, issuer.token("attacker"), "unknown key id")  # a kid never published
    _refused(check, issuer.token("k1", sub=None), "invalid JWT")  # no user named
    _refused(check, issuer.token("k1", exp=None), "invalid JWT")
    _refused(check, "not.a.jwt", "not a JWT")
    unsigned = jwt.encode({"iss": ISSUER, "sub": "ada"}, None, algorithm="none")
    _refused(check, unsigned, "no key id")
    unsigned = jwt.encode(
        {"iss": ISSUER, "sub": "ada"}, None, algorithm="none", headers={"kid": "k1"}
    )
    _refused(check, unsigned, "not allowed")
    # the public key used as an HMAC secret (algorithm confusion) is refused by name
    public_pem = issuer.jwks()["keys"][0]["n"]
    confused = jwt.encode({"iss": ISSUER, "sub": "ada"}, public_pem, "HS256", {"kid": "k1"})
    _refused(check, confused, "not allowed")


def test_clock_skew_is_allowed_up_to_the_leeway(issuer: Issuer) -> None:
    now = int(time.time())
    assert verifier(issuer).verify(issuer.token("k1", exp=now - 30)).principal == "User:ada"
    _refused(verifier(issuer, leeway_s=0), issuer.token("k1", exp=now - 30), "expired")
    _refused(verifier(issuer), issuer.token("k1", nbf=now + 600), "invalid JWT")


def test_rotated_keys_are_read_again_and_made_up_key_ids_cannot_flood_the_issuer(
    issuer: Issuer,
) -> None:
    check = verifier(issuer)
    check.verify(issuer.token("k1"))
    issuer.rotate("k2")
    assert check.verify(issuer.token("k2")).principal == "User:ada"  # fetched again
    assert issuer.fetches == 2
    _refused(check, issuer.token("k1"), "unknown key id")  # retired with the rotation
    for i in range(30):  # every one looks for a rotation, up to the limit
        _refused(check, _with_kid(issuer, f"made-up-{i}"), "unknown key id")
    assert issuer.fetches <= 10  # at most ten reads a minute


def _with_kid(issuer: Issuer, kid: str) -> str:
    """A token naming a key id the issuer never published."""
    return jwt.encode({"iss": ISSUER, "sub": "x"}, issuer.keys["k1"], "RS256", {"kid": kid})


def test_bad_settings_are_refused(tmp_path: Path, issuer: Issuer) -> None:
    with pytest.raises(InvalidArgumentError):
        OidcVerifier(ISSUER)  # no keys
    with pytest.raises(InvalidArgumentError):
        OidcVerifier(ISSUER, jwks_url=issuer.url, algorithms=["HS256"])
    with pytest.raises(InvalidArgumentError):
        OidcVerifier(ISSUER, jwks_file=str(tmp_path / "missing.json"))
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(issuer.jwks()))
    from_file = OidcVerifier(ISSUER, jwks_file=str(keys), audience=AUDIENCE)
    assert from_file.verify(issuer.token("k1")).principal == "User:ada"


@pytest.mark.slow
def test_jwt_bearers_through_a_real_server(tmp_path: Path, issuer: Issuer) -> None:
    data = tmp_path / "data"
    server = LogwayServer(
        data,
        "--auth",
        "--oidc-issuer",
        ISSUER,
        "--oidc-jwks-url",
        issuer.url,
        "--oidc-audience",
        AUDIENCE,
        "--oidc-groups-claim",
        "cognito:groups",
    )
    server.start()
    try:
        with logway.connect(f"file:{data}") as admin:
            admin.create_topic("articles")
            AuthStore(admin).add_acl(Acl.of("Group:authors", "write", "topic", "articles"))
        with logway.connect(server.url, token=issuer.token("k1")) as ada:
            ada.produce("articles", b"by a JWT bearer")
        no_group = issuer.token("k1", **{"cognito:groups": []})
        with logway.connect(server.url, token=no_group) as x, pytest.raises(PermissionDeniedError):
            x.produce("articles", b"no group")
        now = int(time.time())
        for bad in (
            issuer.token("k1", exp=now - 600),
            issuer.token("k1", aud="other"),
            _with_kid(issuer, "unknown"),
        ):
            with logway.connect(server.url, token=bad) as b, pytest.raises(AuthenticationError):
                b.produce("articles", b"refused")
        # the Kafka port: OAUTHBEARER carries the same JWT, checked the same way
        from confluent_kafka import Producer

        delivered: list[object] = []
        producer = Producer(
            {
                "bootstrap.servers": server.kafka,
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "OAUTHBEARER",
                "oauth_cb": lambda _: (issuer.token("k1"), time.time() + 300),
            }
        )
        producer.produce(
            "articles", b"by OAUTHBEARER", on_delivery=lambda e, m: delivered.append(e)
        )
        assert producer.flush(30) == 0 and delivered == [None]
        with logway.connect(f"file:{data}") as admin:
            assert admin.end_offsets("articles") == {0: 2}
    finally:
        output = "".join(server.output)
        assert server.stop() == 0
    assert issuer.token("k1").split(".")[2] not in output
