// Latent-space playground: each slider move asks the server to decode (z1, z2) and redraws
// the decoded model and the point on both scatter plots. One request in flight; the latest
// slider position always wins.
(function () {
  const root = document.getElementById('playground');
  const run = root.dataset.run;
  const profile = root.dataset.profile === 'true';
  const z1 = document.getElementById('z1');
  const z2 = document.getElementById('z2');
  const error = document.getElementById('error');
  let inflight = false;
  let pending = false;
  let updates = 0;

  async function update() {
    if (inflight) { pending = true; return; }
    inflight = true;
    const q = 'run=' + encodeURIComponent(run) + '&z1=' + z1.value + '&z2=' + z2.value;
    try {
      const r = await fetch('/api/playground?' + q);
      if (!r.ok) {
        error.textContent = await r.text();
        return;
      }
      const v = await r.json();
      document.getElementById('latent').innerHTML = v.latent_svg;
      document.getElementById('velocity').innerHTML = v.velocity_svg;
      if (profile) {
        document.getElementById('model').innerHTML = v.profile_svg;
      } else {
        document.getElementById('model-img').src = '/api/playground.png?' + q;
      }
      document.getElementById('readout').textContent =
        'z = (' + v.z[0].toFixed(3) + ', ' + v.z[1].toFixed(3) + ')  →  v1 = ' +
        v.v1.toFixed(0) + ' m/s, v2 = ' + v.v2.toFixed(0) + ' m/s';
      error.textContent = '';
      updates += 1;
      root.dataset.updates = String(updates);
      root.dataset.z = z1.value + ',' + z2.value;
    } catch (e) {
      error.textContent = String(e);
    } finally {
      inflight = false;
      if (pending) { pending = false; update(); }
    }
  }

  z1.addEventListener('input', update);
  z2.addEventListener('input', update);
  update();
})();
