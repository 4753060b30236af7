"""``portfolio basket create|list|show|update|delete|from-etf``: manage named baskets."""

import argparse

from orchestration.cli.database import AppDatabase
from orchestration.cli.output import print_json, print_pairs, print_table
from orchestration.defs.baskets import store as basket_store
from orchestration.settings import Settings


def _tickers(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise argparse.ArgumentTypeError(f"--tickers {text!r} has an empty entry")
    return items


def _weights(text: str) -> list[float]:
    try:
        return [float(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--weights {text!r} must be comma-separated numbers"
        ) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``portfolio basket …`` to the parser."""
    basket = subparsers.add_parser("basket", help="manage baskets (named custom indexes)")
    commands = basket.add_subparsers(dest="basket_command", required=True, metavar="ACTION")

    def add(name: str, help_text: str, handler) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.set_defaults(handler=handler)
        return parser

    create = add("create", "create a basket", create_command)
    create.add_argument("name")
    create.add_argument("--tickers", type=_tickers, required=True, help="A,B,C")
    create.add_argument("--method", default="equal", help="equal | market_cap | custom")
    create.add_argument("--weights", type=_weights, help="0.5,0.3,0.2 (custom only)")
    create.add_argument("--description")

    add("list", "list baskets", list_command)

    show = add("show", "show a basket with its resolved weights", show_command)
    show.add_argument("name")

    upd = add("update", "change the given fields of a basket", update_command)
    upd.add_argument("name")
    upd.add_argument("--tickers", type=_tickers)
    upd.add_argument("--method")
    upd.add_argument("--weights", type=_weights)
    upd.add_argument("--description")

    remove = add("delete", "delete a basket", delete_command)
    remove.add_argument("name")

    seed = add("from-etf", "create a custom basket from an ETF's holdings", from_etf_command)
    seed.add_argument("etf")
    seed.add_argument("name")
    size = seed.add_mutually_exclusive_group()
    size.add_argument("--top-n", type=int, help="keep the N largest holdings (default 10)")
    size.add_argument("--min-weight", type=float, help="keep holdings with weight >= this")
    seed.add_argument(
        "--known-only",
        action="store_true",
        help="drop holdings that are not known instruments before selecting",
    )
    seed.add_argument("--description")


def _database(settings: Settings) -> AppDatabase:
    return AppDatabase(settings.database_url)


def _show(record: basket_store.BasketRecord, database: AppDatabase, as_json: bool) -> None:
    weights = basket_store.resolved_weights(database, record)
    if as_json:
        print_json({**record.as_dict(), "resolved_weights": weights.to_dict()})
        return
    print_pairs(
        [
            ("basket", record.name),
            ("description", record.description or ""),
            ("method", record.method),
            ("tickers", len(record.tickers)),
            ("updated", record.updated_at.isoformat(timespec="seconds")),
        ]
    )
    print_table(weights.rename("weight").reset_index())


def create_command(args: argparse.Namespace, settings: Settings) -> int:
    """Create a basket."""
    database = _database(settings)
    record = basket_store.create_basket(
        database,
        args.name,
        args.tickers,
        method=args.method,
        weights=args.weights,
        description=args.description,
    )
    _show(record, database, args.json)
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    """List baskets with ticker counts, method and update time."""
    records = basket_store.list_baskets(_database(settings))
    rows = [
        {
            "name": r.name,
            "tickers": len(r.tickers),
            "method": r.method,
            "updated_at": r.updated_at.isoformat(timespec="seconds"),
            "description": r.description or "",
        }
        for r in records
    ]
    if args.json:
        print_json(rows)
    else:
        print_table(rows)
    return 0


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    """Show one basket and its resolved weights."""
    database = _database(settings)
    _show(basket_store.get_basket(database, args.name), database, args.json)
    return 0


def update_command(args: argparse.Namespace, settings: Settings) -> int:
    """Change only the given fields of a basket."""
    database = _database(settings)
    record = basket_store.update_basket(
        database,
        args.name,
        tickers=args.tickers,
        method=args.method,
        weights=args.weights,
        description=args.description,
    )
    _show(record, database, args.json)
    return 0


def delete_command(args: argparse.Namespace, settings: Settings) -> int:
    """Delete a basket."""
    record = basket_store.delete_basket(_database(settings), args.name)
    if args.json:
        print_json({"deleted": record.as_dict()})
    else:
        print(f"deleted basket {record.name!r} ({len(record.tickers)} tickers)")
    return 0


def from_etf_command(args: argparse.Namespace, settings: Settings) -> int:
    """Create a custom-weighted basket from an ETF's latest holdings."""
    database = _database(settings)
    record = basket_store.create_basket_from_etf(
        database,
        args.etf,
        args.name,
        top_n=args.top_n,
        min_weight=args.min_weight,
        known_only=args.known_only,
        description=args.description,
    )
    _show(record, database, args.json)
    return 0
