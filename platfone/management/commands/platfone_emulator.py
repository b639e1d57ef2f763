"""`manage.py platfone_emulator`: serve the offline Platfone emulator over HTTP until SIGTERM/SIGINT."""

from django.core.management.base import BaseCommand, CommandError

from platfone.emulator.server import add_arguments, serve


class Command(BaseCommand):
    help = "Run the offline Platfone Activation API emulator (API under /api/v1/, control under /_emulator/)."

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        def announce(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            serve(options, announce)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
