"""Signature verification rules (reference §1, §8), checked directly on mexcsim.auth."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mexcsim.errors import SimError
from mexcsim.http.auth import SignedRequest, authenticate, sign, strip_signature

KEY = "my-key"
SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"
NOW = 1_644_489_390_087


def secret_for(api_key: str) -> str | None:
    return SECRET if api_key == KEY else None


def request(
    query: str = "", body: str = "", api_key: str | None = KEY, *, sign_it: bool = True
) -> SignedRequest:
    """A request as a client sends it: signature over query+body, appended to the query."""
    if sign_it:
        signature = sign(SECRET, query + body)
        query = f"{query}&signature={signature}" if query else f"signature={signature}"
    params = dict(parse_qsl(body, keep_blank_values=True))
    params.update(parse_qsl(query, keep_blank_values=True))
    return SignedRequest(api_key=api_key, raw_query=query, raw_body=body, params=params)


def code_of(req: SignedRequest, now: int = NOW) -> int:
    with pytest.raises(SimError) as caught:
        authenticate(req, secret_for, now)
    assert caught.value.http_status == 400
    return caught.value.code


def test_mexc_published_test_vector() -> None:
    """MEXC's docs sign this string twice: "Example 2" gives fd3e4e85...; "Example 1" shows
    323c96ab..., which no HMAC-SHA256 of this string under this secret produces (a docs error)."""
    total = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000"
        "&timestamp=1644489390087"
    )
    assert sign(SECRET, total) == "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a"
    assert authenticate(request(total), secret_for, NOW) == KEY


def test_strip_signature_keeps_every_other_byte() -> None:
    assert strip_signature("b=%2F&signature=abc&a=1") == ("b=%2F&a=1", "abc")
    assert strip_signature("signature=abc") == ("", "abc")
    assert strip_signature("a=1") == ("a=1", None)
    assert strip_signature("") == ("", None)


def test_parameters_in_any_order() -> None:
    assert (
        authenticate(request(f"timestamp={NOW}&symbol=BTCUSDT&side=SELL"), secret_for, NOW) == KEY
    )


def test_percent_encoded_values_are_signed_as_sent() -> None:
    query = f"symbol=BTCUSDT&newClientOrderId=a%2Fb%20c&timestamp={NOW}"
    req = request(query)
    assert req.params["newClientOrderId"] == "a/b c"
    assert authenticate(req, secret_for, NOW) == KEY
    # a client that signs the decoded text instead of what it sends is refused
    decoded = "symbol=BTCUSDT&newClientOrderId=a/b c&timestamp=" + str(NOW)
    bad = SignedRequest(
        api_key=KEY,
        raw_query=f"{query}&signature={sign(SECRET, decoded)}",
        raw_body="",
        params=req.params,
    )
    assert code_of(bad) == 700002


def test_body_only() -> None:
    body = f"symbol=BTCUSDT&side=BUY&timestamp={NOW}"
    signature = sign(SECRET, body)
    req = SignedRequest(
        api_key=KEY,
        raw_query="",
        raw_body=f"{body}&signature={signature}",
        params=dict(parse_qsl(body)) | {"signature": signature},
    )
    assert authenticate(req, secret_for, NOW) == KEY


def test_query_and_body_split_concatenate_without_separator() -> None:
    query, body = "symbol=BTCUSDT&side=BUY", f"quantity=1&timestamp={NOW}"
    assert authenticate(request(query, body), secret_for, NOW) == KEY
    signature = hmac.new(SECRET.encode(), f"{query}&{body}".encode(), hashlib.sha256).hexdigest()
    params = dict(parse_qsl(query)) | dict(parse_qsl(body))
    with_ampersand = SignedRequest(KEY, f"{query}&signature={signature}", body, params)
    assert code_of(with_ampersand) == 700002


def test_batch_orders_json_uppercase_hex() -> None:
    orders = [{"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "2"}]
    encoded = quote(json.dumps(orders, separators=(",", ":")), safe="")
    assert "%7B%22" in encoded  # uppercase hex, as MEXC requires
    query = f"batchOrders={encoded}&timestamp={NOW}"
    req = request(query)
    assert json.loads(req.params["batchOrders"]) == orders
    assert authenticate(req, secret_for, NOW) == KEY
    # the same request signed over lowercase-hex text does not verify
    lower = query.replace("%7B", "%7b").replace("%22", "%22").replace("%3A", "%3a")
    signature = sign(SECRET, lower)
    assert code_of(SignedRequest(KEY, f"{query}&signature={signature}", "", req.params)) == 700002


def test_signature_must_be_lowercase_hex() -> None:
    query = f"symbol=BTCUSDT&timestamp={NOW}"
    upper = SignedRequest(
        KEY, f"{query}&signature={sign(SECRET, query).upper()}", "", dict(parse_qsl(query))
    )
    assert code_of(upper) == 700002


def test_missing_api_key() -> None:
    req = request(f"timestamp={NOW}", api_key=None)
    with pytest.raises(SimError) as caught:
        authenticate(req, secret_for, NOW)
    assert (caught.value.code, caught.value.msg) == (400, "api key required")


def test_unknown_api_key() -> None:
    assert code_of(request(f"timestamp={NOW}", api_key="other")) == 10072


def test_missing_signature() -> None:
    assert code_of(request(f"timestamp={NOW}", sign_it=False)) == 700004


def test_bad_signature_message_never_leaks_the_secret() -> None:
    query = f"timestamp={NOW}&signature=" + "0" * 64
    with pytest.raises(SimError) as caught:
        authenticate(SignedRequest(KEY, query, "", dict(parse_qsl(query))), secret_for, NOW)
    assert caught.value.code == 700002
    assert caught.value.msg == "Signature for this request is not valid."
    assert SECRET not in str(caught.value)


def test_timestamp_is_mandatory() -> None:
    with pytest.raises(SimError) as caught:
        authenticate(request("symbol=BTCUSDT"), secret_for, NOW)
    assert "timestamp" in caught.value.msg


@pytest.mark.parametrize(
    ("timestamp", "recv_window", "accepted"),
    [
        (NOW, None, True),
        (NOW - 5000, None, True),  # exactly the default window
        (NOW - 5001, None, False),
        (NOW + 999, None, True),  # up to 1 s in the server's future
        (NOW + 1000, None, False),
        (NOW - 60000, "60000", True),
        (NOW - 10, "5", False),
    ],
)
def test_recv_window(timestamp: int, recv_window: str | None, accepted: bool) -> None:
    params = {"timestamp": str(timestamp)} | ({"recvWindow": recv_window} if recv_window else {})
    req = request(urlencode(params))
    if accepted:
        assert authenticate(req, secret_for, NOW) == KEY
    else:
        assert code_of(req) == 700003


def test_recv_window_above_60000_is_refused() -> None:
    assert code_of(request(f"timestamp={NOW}&recvWindow=60001")) == 700005


_names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8
)


@settings(max_examples=60, deadline=None)
@given(
    params=st.dictionaries(_names, st.text(max_size=12), max_size=6),
    split=st.integers(min_value=0, max_value=8),
    data=st.data(),
)
def test_any_parameters_any_order_any_split_verify(
    params: dict[str, str], split: int, data: st.DataObject
) -> None:
    """Whatever the parameters, their order and their query/body split, a client that signs exactly
    the bytes it sends is accepted, and one changed byte is refused."""
    params.pop("signature", None)
    params["timestamp"] = str(NOW)
    pairs = data.draw(st.permutations(sorted(params.items())))
    encoded = [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs]
    query, body = "&".join(encoded[:split]), "&".join(encoded[split:])
    req = request(query, body)
    assert authenticate(req, secret_for, NOW) == KEY
    tampered = SignedRequest(KEY, req.raw_query, req.raw_body + "x", req.params)
    assert code_of(tampered) == 700002
