"""Content held for review (DESIGN ground rule 2): the upload of an item whose verdict opened a
case stays in `item_payloads` until a reviewer decides, sealed there under the vault master key
by the transaction that records the verdict; `held_content` is the one way to read it back."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tutela.detection.models import ItemPayload
from tutela.errors import ConfigurationError, TamperedData
from tutela.master_key import (
    MasterKey,
    configured_master_key,
    refuse_other_keys,
    unwrap_data_key,
    wrap_data_key,
)
from tutela.messaging.crypto import new_data_key, seal, unseal
from tutela.settings import Settings

log = logging.getLogger("tutela.detection")


def sealing_key(settings: Settings) -> MasterKey | None:
    """The vault master key that seals content held for review, or None, with a warning in the
    log: without one, a matched upload waits for its review unencrypted."""
    master_key = configured_master_key(settings)
    if master_key is None:
        log.warning(
            "no vault master key: content of matched uploads waits for review unencrypted; "
            "set TUTELA_VAULT_KEY (tutela vault keygen)"
        )
    return master_key


def seal_held_payloads(session: Session, item_ids: Sequence[int], master_key: MasterKey) -> int:
    """Encrypt, in place and inside the caller's transaction, the plaintext payloads of
    `item_ids`, each under a fresh data key wrapped by `master_key`; return how many."""
    if not item_ids:
        return 0
    rows = session.execute(
        select(ItemPayload.item_id, ItemPayload.data).where(
            ItemPayload.item_id.in_(item_ids), ItemPayload.key_id.is_(None)
        )
    ).all()
    if not rows:
        return 0
    # On SQLite the space the plaintext leaves is zeroed (secure_delete, see tutela.db.engine).
    sealed = []
    for item_id, data in rows:
        data_key = new_data_key()
        sealed.append(
            {
                "item_id": item_id,
                "data": seal(data_key, data, _aad(item_id)),
                "key_id": master_key.key_id,
                "wrapped_key": wrap_data_key(master_key, data_key),
            }
        )
    session.execute(update(ItemPayload), sealed)
    return len(sealed)


def is_held(session: Session, item_id: int) -> bool:
    """Whether the node still holds the item's content (sealed or not), without reading it."""
    held = session.scalar(select(ItemPayload.item_id).where(ItemPayload.item_id == item_id))
    return held is not None


def held_content(session: Session, item_id: int, master_key: MasterKey | None) -> bytes | None:
    """The content the node holds for an item, unsealed when sealed; None when it holds none.
    `master_key` is the configured vault key, None when there is none."""
    row = session.execute(
        select(ItemPayload.data, ItemPayload.key_id, ItemPayload.wrapped_key).where(
            ItemPayload.item_id == item_id
        )
    ).one_or_none()
    if row is None:
        return None
    data, key_id, wrapped_key = row
    if key_id is None:
        return bytes(data)  # not yet hashed, or decided while no vault key was configured
    if wrapped_key is None:
        raise TamperedData(f"the content held for item {item_id} has lost its data key")
    if master_key is None:
        raise ConfigurationError(
            f"the content held for item {item_id} is sealed under vault master key {key_id}, "
            "but no vault key is configured: set TUTELA_VAULT_KEY or TUTELA_VAULT_KEY_FILE to it"
        )
    if key_id != master_key.key_id:
        raise ConfigurationError(
            f"the content held for item {item_id} is sealed under vault master key {key_id}, "
            f"but the configured key is {master_key.key_id}"
        )
    data_key = unwrap_data_key(master_key, wrapped_key)
    return unseal(data_key, data, _aad(item_id), f"the content held for item {item_id}")


def rewrap_held_payloads(session: Session, old: MasterKey, new: MasterKey) -> int:
    """Re-wrap the data keys of held payloads from `old` to `new` inside the caller's
    transaction (a master-key rotation); the ciphertext is untouched. Returns how many."""
    refuse_other_keys(
        session, ItemPayload.key_id, old, new, "some content held for review is sealed"
    )
    rows = session.execute(
        select(ItemPayload.item_id, ItemPayload.wrapped_key)
        .where(ItemPayload.key_id == old.key_id)
        .with_for_update()
    ).all()
    rewrapped = []
    for item_id, wrapped_key in rows:
        if wrapped_key is None:
            raise TamperedData(f"the content held for item {item_id} has lost its data key")
        rewrapped.append(
            {
                "item_id": item_id,
                "key_id": new.key_id,
                "wrapped_key": wrap_data_key(new, unwrap_data_key(old, wrapped_key)),
            }
        )
    if rewrapped:
        session.execute(update(ItemPayload), rewrapped)
    return len(rows)


def _aad(item_id: int) -> bytes:
    return f"tutela-held/v1/item/{item_id}/content".encode()
