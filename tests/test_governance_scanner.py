"""The privacy scanner: CPF/CNPJ with valid check digits, e-mails and Brazilian phones, found in
data by value (whatever the column is called); ids, dates and pseudonyms are not mistaken."""

from __future__ import annotations

import duckdb
import pytest

from wdc_orchestration.governance.scanner import (
    extract_candidates,
    is_valid_cnpj,
    is_valid_cpf,
    mask,
    scan_relation,
)

VALID_CPF = "529.982.247-25"
VALID_CNPJ = "11.222.333/0001-81"


def test_check_digits() -> None:
    assert is_valid_cpf(VALID_CPF) and is_valid_cpf("52998224725")
    assert not is_valid_cpf("529.982.247-26")  # one check digit off
    assert not is_valid_cpf("111.111.111-11")  # repeated digits are not issued
    assert is_valid_cnpj(VALID_CNPJ) and is_valid_cnpj("11222333000181")
    assert not is_valid_cnpj("11.222.333/0001-82")


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("cpf", f"cliente {VALID_CPF} ok", [VALID_CPF]),
        ("cpf", "a12345678909b", []),  # inside a hex token: not a CPF
        ("cpf", "2026110100000001", []),  # a 16-digit order id
        ("email", "write to Ana.Souza+x@mail.com.br today", ["Ana.Souza+x@mail.com.br"]),
        ("phone", "+55 11 91234-5678", ["+55 11 91234-5678"]),
        ("phone", "(21) 98765-4321", ["(21) 98765-4321"]),
        ("phone", "2026-11-01", []),
        ("cnpj", f"empresa {VALID_CNPJ}", [VALID_CNPJ]),
    ],
)
def test_candidates(kind: str, text: str, expected: list[str]) -> None:
    assert extract_candidates(kind, text) == expected


def test_masking_hides_the_value() -> None:
    assert mask(VALID_CPF) == "5**.***.***-*5"


def test_planted_identifiers_are_found_in_a_table_and_clean_data_is_not() -> None:
    conn = duckdb.connect()
    conn.execute(
        "create table t as select range as id, 'SKU-' || lpad(range::varchar, 6, '0') as sku, "
        "sha256(range::varchar) as pseudonym, 20261101::bigint * 10000000 + range as order_id, "
        "'varejo' as note from range(500)"
    )
    assert scan_relation(conn, "t", ["id", "sku", "pseudonym", "order_id", "note"]) == []
    conn.execute(
        "insert into t values "
        f"(1000, 'SKU-1', 'x', 1, 'cpf {VALID_CPF}'), "
        "(1001, 'SKU-2', 'x', 2, 'maria@example.com'), "
        "(1002, 'SKU-3', 'x', 3, '+55 11 91234-5678'), "
        "(1003, 'SKU-4', 'x', 52998224725, 'ok')"  # a CPF stored as a number
    )
    findings = scan_relation(conn, "t", ["id", "sku", "pseudonym", "order_id", "note"])
    assert {(f.column, f.kind) for f in findings} == {
        ("note", "cpf"),
        ("note", "email"),
        ("note", "phone"),
        ("order_id", "cpf"),
    }
    assert all(VALID_CPF not in f.describe() for f in findings)
