from django.core.management.base import BaseCommand

from revops.dataset.exporter import export_dataset


class Command(BaseCommand):
    help = "Export the whole database as a dataset folder (shared/spec/dataset.md)."

    def add_arguments(self, parser):
        parser.add_argument("folder")

    def handle(self, folder, **options):
        for name, count in export_dataset(folder).items():
            self.stderr.write(f"{name}: {count} rows")
