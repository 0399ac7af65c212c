// The pharmacist's pages (plain JavaScript; everything also works without it): the camera
// scanner (jsQR, vendored), a scanner's Enter in a pack field moves to the next line's pack,
// a form is sent once, and Print.
"use strict";
(function () {
  var WORDS = JSON.parse(document.body.dataset.words || "{}");

  // A text of the page language (base.html's data-words), its {parts} filled in.
  function word(name, parts) {
    return (WORDS[name] || name).replace(/\{(\w+)\}/g, function (all, part) {
      return parts && part in parts ? String(parts[part]) : all;
    });
  }

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // A DataMatrix scanned into a pack field ends with Enter: go to the next line's pack, and
  // after the last one to the dispense button (a second Enter dispenses); a CIP13 typed by
  // hand goes on to its batch and expiry. What the box's code
  // says (pack, batch, expiry) is read back by the server and shown under the field.
  var scanFields = Array.from(document.querySelectorAll("[data-scan-field]"));
  scanFields.forEach(function (field, index) {
    field.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      readBack(field);
      // A CIP13 typed by hand carries no batch or expiry: they come next, on this line.
      var typed = /^[0-9]{13}$/.test(field.value.trim());
      var next = typed ? document.getElementById(field.id.replace(/pack$/, "batch"))
        : scanFields[index + 1] || document.getElementById("dispense-button");
      if (next) { next.focus(); }
    });
    field.addEventListener("change", function () { readBack(field); });
  });

  function readBack(field) {
    var output = document.getElementById(field.id.replace(/pack$/, "read"));
    var code = field.value.trim();
    if (!output || !field.dataset.read) { return; }
    if (!code || /^[0-9]{13}$/.test(code)) { output.textContent = ""; return; }
    if (field.dataset.readFor === code) { return; }
    field.dataset.readFor = code;
    var body = new FormData();
    body.append("csrf_token", field.form.elements.csrf_token.value);
    body.append("code", code);
    fetch(field.dataset.read, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        output.textContent = answer.error || answer.text;
        output.classList.toggle("field-error", Boolean(answer.error));
      })
      .catch(function () { output.textContent = ""; });
  }

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
          say(word("qr_read"));
          if (field.form.requestSubmit) { field.form.requestSubmit(); } else { field.form.submit(); }
          return;
        }
      }
      window.setTimeout(read, FRAME_MS);
    }

    function refused(error) {
      stop();
      var name = error && error.name;
      var rest = " " + word("camera_instead");
      if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
        say(word("camera_not_allowed") + rest, true);
      } else if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
        say(word("camera_missing") + rest, true);
      } else if (name === "NotReadableError") {
        say(word("camera_busy") + rest, true);
      } else {
        say(word("camera_failed", { name: name || "?" }) + rest, true);
      }
    }

    button.addEventListener("click", function () {
      if (!window.jsQR || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        say(word("camera_unavailable") + " " + word("camera_instead"), true);
        return;
      }
      say(word("camera_starting"));
      navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          view.hidden = false;
          button.hidden = true;
          return video.play();
        })
        .then(function () { say(word("camera_point")); read(); })
        .catch(refused);
    });
    document.getElementById("camera-stop").addEventListener("click", function () {
      stop();
      say(word("camera_stopped"));
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
