"""`flask catalog …`: import the BDPM medicine catalog and cut the bundled demo subset."""

import re
from collections import Counter
from pathlib import Path

import click
from flask.cli import AppGroup

from eprescription.catalog import bdpm
from eprescription.cli.operator import operator_work
from eprescription.domain.errors import CatalogFileRefused
from eprescription.domain.prescribing_conditions import Kind
from eprescription.services import catalog
from eprescription.use_cases import unit_of_work

# Brands (optionally with a strength) of commonly prescribed medicines; their generic groups
# come with them, so the demo shows substitution.
DEMO_BRANDS = (
    "DOLIPRANE",
    "EFFERALGAN",
    "DAFALGAN",
    "ADVIL",
    "NUROFEN",
    "CLAMOXYL 500 mg",
    "CLAMOXYL 1 g",
    "AUGMENTIN 1 g/125 mg",
    "AUGMENTIN 500 mg/62,5 mg",
    "GLUCOPHAGE 850 mg",
    "GLUCOPHAGE 1000 mg",
    "TAHOR 10 mg",
    "TAHOR 20 mg",
    "LEVOTHYROX",
    "MOPRAL 20 mg",
    "INEXIUM 20 mg",
    "AMLOR 5 mg",
    "TRIATEC 5 mg",
    "VENTOLINE",
    "KARDEGIC",
    "SPASFON",
    # One product under each kind of prescribing rule (docs/rules.md), so that the demo meets
    # them: a narcotic for specialists, a narcotic limited to 4 weeks, a fractioned narcotic,
    # a liste II product, one limited to 4 weeks, hospital-only, hospital prescription,
    # specialist-only, initial hospital prescription (CLAMOXYL above is a liste I antibiotic).
    "RITALINE 10 mg",
    "SKENAN L.P. 10 mg",
    "DUROGESIC 50",
    "FENOFIBRATE TEVA 100 mg",
    "IMOVANE 7,5 mg",
    "AVASTIN",
    "AMMONAPS",
    "FAMPYRA",
    "DEFERASIROX ZENTIVA 90 mg",
)
SKIPPED_SHOWN = 20

directory_argument = click.Path(exists=True, file_okay=False, path_type=Path)


catalog_group = AppGroup("catalog", help="The medicine catalog (BDPM).")


@catalog_group.command("import-bdpm", help="Import (or update from) the BDPM files in DIR.")
@click.argument("directory", metavar="DIR", type=directory_argument)
def import_bdpm_command(directory: Path) -> None:
    try:
        with unit_of_work() as uow:
            report = catalog.import_release(uow, directory, progress=click.echo)
    except CatalogFileRefused as error:
        raise click.ClickException(f"Refused, nothing changed: {error.detail}") from error
    for line in report.skipped[:SKIPPED_SHOWN]:
        click.echo(f"skipped {line}", err=True)
    if len(report.skipped) > SKIPPED_SHOWN:
        # Thousands of lines share a few reasons; the numbers in them are what differs.
        reasons = Counter((line.file, re.sub(r"\d+", "#", line.reason)) for line in report.skipped)
        click.echo(f"… and {len(report.skipped) - SKIPPED_SHOWN:,} more; all by reason:", err=True)
        for (file, reason), count in reasons.most_common():
            click.echo(f"  {file}: {count:,} × {reason}", err=True)
    click.echo(report.summary())


@catalog_group.command(
    "conditions",
    help="List every prescribing condition (CIS_CPD) of the catalog and the rule it was read "
    "as; texts no rule reads come first (exit code 1 when there are some).",
)
def conditions_command() -> None:
    with operator_work() as uow:
        listed = catalog.conditions_listing(uow)
    unknown = 0
    for item in listed:
        condition = item.condition
        detail = condition.specialty or (f"{condition.days} days" if condition.days else "")
        unknown += condition.kind is Kind.UNKNOWN
        click.echo(
            f"{condition.kind:<22} {item.products:>6,}  {condition.text}"
            + (f"  [{detail}]" if detail else "")
        )
    click.echo(f"{len(listed):,} distinct conditions, {unknown:,} not read as a rule")
    if unknown:
        raise click.exceptions.Exit(1)


@catalog_group.command(
    "make-demo",
    help="Write to OUT_DIR the demo subset of the BDPM files in SOURCE_DIR.",
    with_appcontext=False,  # files to files: no database
)
@click.argument("source", metavar="SOURCE_DIR", type=directory_argument)
@click.argument("target", metavar="OUT_DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--brand",
    "brands",
    multiple=True,
    default=DEMO_BRANDS,
    show_default=True,
    help="Brand names whose marketed products (and their generic groups) are kept.",
)
def make_demo_command(source: Path, target: Path, brands: tuple[str, ...]) -> None:
    try:
        release = bdpm.read_release(source)
    except CatalogFileRefused as error:
        raise click.ClickException(error.detail) from error
    subset = bdpm.select_subset(release, brands)
    written = bdpm.write_subset(release, subset, source, target)
    for name, count in written.items():
        click.echo(f"{target / name}: {count:,} lines")
    click.echo(f"{len(subset.cis):,} products, {len(subset.group_ids):,} generic groups")
