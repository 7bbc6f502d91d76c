"""Stands in for the aioguest package when aioguest's own test suite runs
against guestpoll (run-aioguest-suite.sh): its one public function is
guestpoll's."""

from guestpoll import start_guest_run

__all__ = ["start_guest_run"]
