// The pharmacist's pages (plain JavaScript; everything also works without it): the camera
// scanner (jsQR, vendored), a scanner's Enter in a pack field moves on instead of submitting,
// a form is sent once, and Print.
"use strict";
(function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // A DataMatrix scanned into a pack field ends with Enter: go to the next field, do not
  // dispense before the pharmacist has looked at the rest of the form.
  document.querySelectorAll("[data-scan-field]").forEach(function (field) {
    field.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      var fields = Array.from(field.form.querySelectorAll("input:not([type=hidden]), button"));
      var next = fields[fields.indexOf(field) + 1];
      if (next) { next.focus(); }
    });
  });

  // The camera scanner: frames from the (rear) camera decoded by jsQR; the text read goes into
  // the scan field and the same form is sent, as if a wedge scanner had typed it.
  var camera = document.querySelector("[data-camera]");
  if (camera) { setUpCamera(camera); }

  function setUpCamera(section) {
    var button = document.getElementById("camera-button");
    var view = document.getElementById("camera-view");
    var video = document.getElementById("camera-video");
    var message = document.getElementById("camera-message");
    var field = document.getElementById("code");
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    var stream = null;
    var FRAME_MS = 120, LARGEST_SIDE = 800;
    section.hidden = false;

    function say(text, isError) {
      message.textContent = text;
      message.classList.toggle("field-error", Boolean(isError));
    }

    function stop() {
      if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
      stream = null;
      video.srcObject = null;
      view.hidden = true;
      button.hidden = false;
    }

    function read() {
      if (!stream) { return; }
      if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
        var scale = Math.min(1, LARGEST_SIDE / Math.max(video.videoWidth, video.videoHeight));
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR(image.data, image.width, image.height,
                               { inversionAttempts: "attemptBoth" });
        if (code && code.data) {
          stop();
          field.value = code.data;
          say("QR code read: opening the prescription…");
          if (field.form.requestSubmit) { field.form.requestSubmit(); } else { field.form.submit(); }
          return;
        }
      }
      window.setTimeout(read, FRAME_MS);
    }

    function refused(error) {
      stop();
      var name = error && error.name;
      var rest = " Use the 2D scanner or type the number instead.";
      if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
        say("The camera is not allowed: permission was refused. Allow it in the browser's site settings." + rest, true);
      } else if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
        say("No camera was found on this device." + rest, true);
      } else if (name === "NotReadableError") {
        say("The camera is busy in another application." + rest, true);
      } else {
        say("The camera could not be started (" + (name || "unknown error") + ")." + rest, true);
      }
    }

    button.addEventListener("click", function () {
      if (!window.jsQR || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        say("This browser cannot use a camera on this page (it needs https)." +
            " Use the 2D scanner or type the number instead.", true);
        return;
      }
      say("Starting the camera…");
      navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          view.hidden = false;
          button.hidden = true;
          return video.play();
        })
        .then(function () { say("Point the camera at the QR code."); read(); })
        .catch(refused);
    });
    document.getElementById("camera-stop").addEventListener("click", function () {
      stop();
      say("Camera stopped.");
      button.focus();
    });
    window.addEventListener("pagehide", stop);
  }

  // After a refusal, the first field in error has the focus.
  var invalid = document.querySelector("#dispense-form [aria-invalid=true]");
  if (invalid) { invalid.focus(); }

  // A second click while the first is on its way is ignored (the server's Idempotency-Key
  // would answer it with the same receipt anyway).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      form.setAttribute("aria-busy", "true");
    });
  });
})();
