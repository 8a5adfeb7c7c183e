// The signing pad: draw with a pen, finger or mouse; the PNG goes with the form.
(function () {
  var pad = document.getElementById("pad");
  if (!pad) return;
  var ctx = pad.getContext("2d"), drawing = false, drawn = false;
  function reset() {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.strokeStyle = "#111"; ctx.lineWidth = 3; ctx.lineCap = "round"; drawn = false;
  }
  function at(e) {
    var r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
  }
  pad.addEventListener("pointerdown", function (e) {
    drawing = true; pad.setPointerCapture(e.pointerId);
    var p = at(e); ctx.beginPath(); ctx.moveTo(p[0], p[1]);
  });
  pad.addEventListener("pointermove", function (e) {
    if (!drawing) return;
    var p = at(e); ctx.lineTo(p[0], p[1]); ctx.stroke(); drawn = true;
  });
  pad.addEventListener("pointerup", function () { drawing = false; });
  document.getElementById("pad-clear").addEventListener("click", reset);
  document.getElementById("sign-form").addEventListener("submit", function (e) {
    if (!drawn) {
      e.preventDefault();
      document.getElementById("pad-hint").textContent = "请患者先在签字板上签名";
      return;
    }
    document.getElementById("signature-png").value = pad.toDataURL("image/png");
  });
  reset();
})();
