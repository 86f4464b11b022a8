"""``tsed-vendor``: the vendor staff's tool for activation documents.

::

    tsed-vendor keygen -o DIR                      # DIR/vendor.key (0600) + DIR/vendor.pub
    tsed-vendor sign --key DIR/vendor.key --device-id ID --env TEST|LIVE \\
        --organization NAME [--organization-id ID] [--address ... --zip ... --town ...] \\
        --mgmt-key KEY --mgmt-secret SECRET|- --expires YYYY-MM-DD -o FILE
    tsed-vendor verify --pub DIR/vendor.pub [--device-id ID] FILE
    tsed-vendor label [--state-dir DIR] [--name NAME] -o label.svg   # on the unit

``--mgmt-secret -`` reads the secret from standard input (keeps it out of the shell history
and the process list). The signed file contains the management credentials: it is written
with mode 0600; hand it over like a password. The public key ships with the unit's image
(root-owned at ``/usr/share/tsed/vendor.pub``; it is not a setting of the unit).

Exit codes: 0 done / valid, 1 refused or failed (the reason and what to do are printed),
2 wrong usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from tsed.cli.vendor_label import add_label_parser, run_label
from tsed.errors import InputError, TsedError
from tsed.provisioning.activation import (
    ActivationDocument,
    ActivationOrganization,
    ManagementCredentials,
    generate_vendor_key,
    key_id,
    load_private_key,
    load_public_key,
    parse_payload,
    sign_document,
    verify_document,
)

PRIVATE_NAME = "vendor.key"
PUBLIC_NAME = "vendor.pub"


class VendorToolError(InputError, code="VENDOR_TOOL"):
    default_hint = "See tsed-vendor --help."


def _write_new(path: Path, data: bytes, mode: int, force: bool) -> None:
    """Create ``path`` with ``mode`` from the start; refuse to overwrite unless ``force``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise VendorToolError(
            f"{path} exists already", hint="Choose another path, or add --force to replace it."
        ) from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)


def _keygen(args: argparse.Namespace, out: TextIO) -> int:
    directory: Path = args.output
    directory.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = generate_vendor_key()
    _write_new(directory / PRIVATE_NAME, private_pem, 0o600, args.force)
    _write_new(directory / PUBLIC_NAME, public_pem, 0o644, args.force)
    public = load_public_key(directory / PUBLIC_NAME)
    out.write(
        f"vendor key pair written:\n  private: {directory / PRIVATE_NAME} (keep it offline, "
        f"mode 0600)\n  public:  {directory / PUBLIC_NAME} (ships with the image)\n"
        f"  key id:  {key_id(public)}\n"
    )
    return 0


def _secret(value: str, stdin: TextIO) -> str:
    if value == "-":
        return stdin.readline().strip()
    return value


def _sign(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    try:
        pem = args.key.read_bytes()
    except OSError as err:
        raise VendorToolError(
            f"cannot read the vendor key {args.key}: {err.strerror}",
            hint="Give the vendor.key written by tsed-vendor keygen.",
        ) from None
    private = load_private_key(pem)
    try:
        expires = date.fromisoformat(args.expires)
    except ValueError:
        raise VendorToolError(
            f"--expires {args.expires!r} is not a date", hint="Write it as YYYY-MM-DD."
        ) from None
    secret = _secret(args.mgmt_secret, stdin)
    document = ActivationDocument(
        document_id=args.document_id or str(uuid.uuid4()),
        device_id=args.device_id,
        environment=args.env,
        organization=ActivationOrganization(
            name=args.organization,
            id=args.organization_id,
            address_line1=args.address,
            zip=args.zip,
            town=args.town,
            country_code=args.country,
        ),
        management=ManagementCredentials(args.mgmt_key, secret),
        issued_at=datetime.now(UTC).replace(microsecond=0),
        expires_on=expires,
    )
    parse_payload(document.to_payload())
    data = sign_document(private, document)
    _write_new(args.output, data, 0o600, args.force)
    out.write(
        f"activation document {document.document_id} written to {args.output} (mode 0600)\n"
        f"  device {document.device_id}, {document.environment}, organization "
        f"{document.organization.name}, valid until {expires.isoformat()}\n"
        "  It contains the management credentials: hand it over like a password.\n"
    )
    return 0


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    public = load_public_key(args.pub)
    try:
        data = args.file.read_bytes()
    except OSError as err:
        raise VendorToolError(f"cannot read {args.file}: {err.strerror}") from None
    document = verify_document(data, public, device_id=args.device_id)
    org = document.organization
    out.write(
        f"valid activation document {document.document_id}\n"
        f"  device:       {document.device_id}\n"
        f"  environment:  {document.environment}\n"
        f"  organization: {org.name}" + (f" ({org.id})" if org.id else "") + "\n"
        f"  management:   API key {document.management.api_key} (secret not shown)\n"
        f"  issued:       {document.issued_at.strftime('%Y-%m-%d %H:%M')} UTC\n"
        f"  expires:      {document.expires_on.isoformat()} (end of day, UTC)\n"
        f"  signed by:    vendor key {key_id(public)}\n"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsed-vendor",
        description="Vendor tool: create the vendor key and sign/verify activation documents "
        "that unlock credential creation (Anlegen) and the LIVE mode of a TSE-LAN unit.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="create the vendor's Ed25519 key pair")
    keygen.add_argument("-o", "--output", type=Path, required=True, help="directory")
    keygen.add_argument("--force", action="store_true", help="replace existing files")

    sign = sub.add_parser("sign", help="sign an activation document for one unit")
    sign.add_argument("--key", type=Path, required=True, help="vendor.key (private)")
    sign.add_argument("--device-id", required=True, help="the unit's device id (tsectl status)")
    sign.add_argument("--env", choices=("TEST", "LIVE"), required=True)
    sign.add_argument("--organization", required=True, help="organization name")
    sign.add_argument("--organization-id", help="fiskaly organization id (managing org)")
    sign.add_argument("--address", help="organization street and number")
    sign.add_argument("--zip", help="organization postal code")
    sign.add_argument("--town", help="organization town")
    sign.add_argument("--country", default="DEU", help="ISO 3166 alpha-3 (default DEU)")
    sign.add_argument("--mgmt-key", required=True, help="fiskaly Management API key")
    sign.add_argument(
        "--mgmt-secret", required=True, help="Management API secret, or - to read it from stdin"
    )
    sign.add_argument("--expires", required=True, help="last valid day, YYYY-MM-DD (UTC)")
    sign.add_argument("--document-id", help="document id (default: a new UUID)")
    sign.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    sign.add_argument("--force", action="store_true", help="replace an existing file")

    verify = sub.add_parser("verify", help="check an activation document")
    verify.add_argument("--pub", type=Path, required=True, help="vendor.pub")
    verify.add_argument("--device-id", help="also check that it is for this device")
    verify.add_argument("file", type=Path)
    add_label_parser(sub)  # the printed setup-code label (tsed.cli.vendor_label)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "keygen":
            return _keygen(args, out)
        if args.command == "sign":
            return _sign(args, out, stdin or sys.stdin)
        if args.command == "label":
            return run_label(args, out, _write_new, VendorToolError)
        return _verify(args, out)
    except TsedError as error:
        err.write(f"tsed-vendor: {error.code}: {error.message}\n  what to do: {error.hint}\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
