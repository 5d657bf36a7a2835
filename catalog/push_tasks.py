"""The worker's Web Push task: loads ids, calls the service (catalog.push)."""

from __future__ import annotations

from catalog import push


def send_new_episode_notifications(episode_ids: list[int]) -> dict[str, int]:
    return push.notify_new_episodes(episode_ids=episode_ids)
