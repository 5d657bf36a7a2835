"""Print a new VAPID key pair for Web Push as .env lines (README: Web Push)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from catalog.push_keys import new_vapid_pair


class Command(BaseCommand):
    help = "Print a new VAPID key pair (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY) as .env lines."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--subject", default="mailto:admin@example.com", help="VAPID_SUBJECT")

    def handle(self, *args: Any, **options: Any) -> None:
        public, private = new_vapid_pair()
        self.stdout.write(f"VAPID_PUBLIC_KEY={public}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"VAPID_SUBJECT={options['subject']}")
