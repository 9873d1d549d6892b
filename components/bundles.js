// Bundles (core/latent_view.py `bundle`) as the map and timeline components receive them: each is
// mounted once as its own element and named by id; views wait on `slot(id).ready`. Prepended to a
// component's own script by components.script (no build step), so each component keeps its own map.

const bundles = new Map(); // bundle id -> {ready: Promise, resolve, loaded}

function slot(id) {
  let entry = bundles.get(id);
  if (!entry) {
    let resolve;
    const ready = new Promise((r) => (resolve = r));
    entry = { ready, resolve, loaded: false };
    bundles.set(id, entry);
  }
  return entry;
}

// header length (uint32 LE), JSON header padded to 4 bytes, body: see core/latent_view.py `bundle`
function readBundle(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
  return { header, body: bytes.slice(4 + length) }; // a copy: its buffer starts aligned
}

