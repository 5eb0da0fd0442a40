import sys

from django.core.management.base import BaseCommand

from revops.dataset.importer import import_dataset


class Command(BaseCommand):
    help = "Import a dataset folder (shared/spec/dataset.md): all or nothing by default."

    def add_arguments(self, parser):
        parser.add_argument("folder")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="write the valid rows; invalid ones go to NAME.rejects.csv",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report, writing nothing"
        )

    def handle(self, folder, skip_invalid, dry_run, **options):
        report = import_dataset(folder, skip_invalid=skip_invalid, dry_run=dry_run)
        for problem in report.problems:
            self.stderr.write(str(problem))
        for name, (read, written, rejected) in report.counts.items():
            kept = written if (skip_invalid or not report.problems) and not dry_run else 0
            self.stderr.write(f"{name}: {read} read, {kept} written, {rejected} rejected")
        if report.problems and not skip_invalid:
            self.stderr.write(f"{len(report.problems)} problem(s): nothing was written.")
            sys.exit(1)
        if dry_run:
            self.stderr.write("dry run: nothing was written.")
