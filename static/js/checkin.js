// Check-in page: camera scan of registration QR codes where the browser has BarcodeDetector.
// Without it (or without a camera) the typed-code form works as before; nothing here is required.
(function () {
  "use strict";

  function start() {
    var scan = document.getElementById("checkin-scan");
    var form = document.getElementById("checkin-form");
    if (!scan || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
      return;
    }
    var button = document.getElementById("checkin-scan-start");
    var video = document.getElementById("checkin-video");
    var input = form.querySelector("input[name='code']");
    var via = document.getElementById("checkin-via");
    scan.hidden = false;

    button.addEventListener("click", function () {
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (stream) {
          video.srcObject = stream;
          video.hidden = false;
          button.hidden = true;
          return video.play().then(function () { poll(detector, stream); });
        })
        .catch(function () { button.disabled = true; });
    });

    function poll(detector, stream) {
      detector.detect(video).then(function (codes) {
        if (codes.length && codes[0].rawValue) {
          stream.getTracks().forEach(function (track) { track.stop(); });
          input.value = codes[0].rawValue;
          via.value = "qr";
          form.submit();
          return;
        }
        window.setTimeout(function () { poll(detector, stream); }, 250);
      }).catch(function () {
        window.setTimeout(function () { poll(detector, stream); }, 500);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
