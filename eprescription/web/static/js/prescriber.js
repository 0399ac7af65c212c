// The prescriber's pages: NIR check as typed, medication search (ARIA combobox), dosage
// templates, quantity from the dosage, lines added and removed, and printing.
// Plain JavaScript, no library; every control works with the keyboard alone.
"use strict";

(function () {
  const SEARCH_DELAY_MS = 200;
  const SEARCH_PAGE_SIZE = 8;
  const QUANTITY_MAX = 20;

  // -- NIR: the key is checked as typed; the server's answer (the name) is the authority ----

  function compactNir(value) {
    return value.replace(/[\s.-]/g, "").toUpperCase();
  }

  // Why a complete NIR is wrong, or "" when its key is right (15 characters assumed).
  function nirProblem(nir) {
    if (!/^[12378]\d{4}(\d{2}|2A|2B)\d{8}$/.test(nir)) {
      return "An NIR has 15 digits (2A or 2B for Corsica) and starts with 1 or 2.";
    }
    const digits = nir.slice(0, 13).replace("2A", "19").replace("2B", "18");
    const key = String(97 - (Number(digits) % 97)).padStart(2, "0");
    return key === nir.slice(13) ? "" : "The key should be " + key + ", not " + nir.slice(13) + ": check the number.";
  }

  function setupNir(form) {
    const input = form.querySelector("#patient_nir");
    const status = form.querySelector("#patient_nir-status");
    if (!input || !status) return;
    const csrf = form.querySelector("input[name=csrf_token]").value;
    let asked = "";

    async function confirm(nir) {
      asked = nir;
      status.textContent = "Looking up the patient…";
      try {
        const response = await fetch(form.dataset.lookupUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify({ nir: nir }),
        });
        const body = await response.json();
        if (asked !== nir) return;
        if (response.ok) {
          status.textContent = "Patient: " + body.name + (body.birth_date ? ", born " + body.birth_date : "");
          input.removeAttribute("aria-invalid");
        } else {
          status.textContent = body.detail || "This NIR is refused.";
          input.setAttribute("aria-invalid", "true");
        }
      } catch (error) {
        status.textContent = "The patient could not be looked up; the review will check the NIR.";
      }
    }

    function check() {
      const nir = compactNir(input.value);
      if (nir === asked) return;
      if (nir.length < 15) {
        asked = "";
        status.textContent = nir ? nir.length + " of 15 characters." : "15 characters; spaces are ignored.";
        input.removeAttribute("aria-invalid");
        return;
      }
      const problem = nir.length > 15 ? "An NIR has 15 characters, not " + nir.length + "." : nirProblem(nir);
      if (problem) {
        asked = nir;
        status.textContent = problem;
        input.setAttribute("aria-invalid", "true");
        return;
      }
      confirm(nir);
    }

    input.addEventListener("input", check);
    form.querySelectorAll(".recent-patient").forEach(function (button) {
      button.addEventListener("click", function () {
        input.value = button.dataset.nir;
        check();
        input.focus();
      });
    });
    if (input.value) check();
  }

  // -- quantity: dose × times a day × days, in packs of the chosen presentation ------------

  // Units in a BDPM pack label: "2 plaquette(s) … de 8 comprimé(s)" holds 16 comprimés.
  function packSize(label) {
    const counts = Array.from(label.matchAll(/(\d+)\s+([^\s()]+)\(s\)/g));
    if (!counts.length) return null;
    return { units: counts.reduce((product, match) => product * Number(match[1]), 1), word: counts[counts.length - 1][2] };
  }

  function sameUnit(a, b) {
    const simple = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().slice(0, 5);
    return !a || !b || simple(a) === simple(b);
  }

  function updateQuantity(line) {
    const value = (name) => line.querySelector("." + name).value.trim().replace(",", ".");
    const dose = Number(value("dose"));
    const frequency = Number(value("frequency_per_day"));
    const days = Number(value("duration_days"));
    const hint = line.querySelector("[id$=quantity-hint]");
    const pack = line.dataset.packUnits ? Number(line.dataset.packUnits) : null;
    if (!(dose > 0 && frequency > 0 && days > 0)) return;
    const needed = Math.ceil(dose * frequency * days);
    if (!pack || !sameUnit(value("dose_unit"), line.dataset.packWord)) {
      hint.textContent = needed + " units needed; set the number of packs yourself.";
      return;
    }
    const packs = Math.min(QUANTITY_MAX, Math.ceil(needed / pack));
    line.querySelector(".quantity").value = String(packs);
    hint.textContent = needed + " units needed: " + packs + " pack" + (packs > 1 ? "s" : "") + " of " + pack + ".";
  }

  // -- the medication combobox --------------------------------------------------------------

  function setupCombobox(line, searchUrl) {
    const input = line.querySelector(".medication-search");
    const listbox = line.querySelector("[role=listbox]");
    const status = line.querySelector("[id$=search-status]");
    const cis = line.querySelector(".medication-cis");
    let timer = null;
    let hits = [];
    let active = -1;
    let sequence = 0;

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function show(index) {
      const options = listbox.querySelectorAll("[role=option]");
      options.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      const hit = hits[index];
      if (!hit) return;
      input.value = hit.name;
      cis.value = hit.cis;
      line.querySelectorAll(".medication-substance").forEach((field) => { field.value = ""; });
      const pack = (hit.presentations || []).map((p) => packSize(p.label || "")).find(Boolean);
      line.dataset.packUnits = pack ? String(pack.units) : "";
      line.dataset.packWord = pack ? pack.word : "";
      status.textContent = "Chosen: " + hit.name + " (CIS " + hit.cis + ")" + (pack ? ", packs of " + pack.units + " " + pack.word + "(s)." : ".");
      close();
      updateQuantity(line);
    }

    async function search(query) {
      const mine = ++sequence;
      let body;
      try {
        const response = await fetch(searchUrl + "?q=" + encodeURIComponent(query) + "&page_size=" + SEARCH_PAGE_SIZE, {
          credentials: "same-origin",
          headers: { "Accept": "application/json" },
        });
        if (!response.ok) throw new Error(String(response.status));
        body = await response.json();
      } catch (error) {
        if (mine === sequence) status.textContent = "The search failed; try again.";
        return;
      }
      if (mine !== sequence) return; // a newer search is on its way
      hits = body.items.filter((hit) => hit.prescribable);
      listbox.replaceChildren(...hits.map(function (hit, index) {
        const option = document.createElement("li");
        option.id = input.id + "-option-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = hit.name;
        option.addEventListener("mousedown", function (event) { event.preventDefault(); choose(index); });
        return option;
      }));
      if (hits.length) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
        status.textContent = hits.length + " of " + body.total + " medications found: arrow keys to move, Enter to choose.";
      } else {
        close();
        status.textContent = "No prescribable medication matches.";
      }
      show(-1);
    }

    input.addEventListener("input", function () {
      cis.value = "";
      line.querySelectorAll(".medication-substance").forEach((field) => { field.value = ""; });
      clearTimeout(timer);
      const query = input.value.trim();
      if (query.length < 2) {
        sequence++;
        close();
        status.textContent = "";
        return;
      }
      timer = setTimeout(() => search(query), SEARCH_DELAY_MS);
    });

    input.addEventListener("keydown", function (event) {
      const open = !listbox.hidden && hits.length > 0;
      if (event.key === "ArrowDown" && open) {
        event.preventDefault();
        show((active + 1) % hits.length);
      } else if (event.key === "ArrowUp" && open) {
        event.preventDefault();
        show(active <= 0 ? hits.length - 1 : active - 1);
      } else if (event.key === "Enter" && open) {
        event.preventDefault(); // choosing is not submitting
        choose(active >= 0 ? active : 0);
      } else if (event.key === "Escape" && open) {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", close);
  }

  // -- a line: template, structure, quantity ------------------------------------------------

  function setupLine(line, searchUrl) {
    setupCombobox(line, searchUrl);
    const template = line.querySelector(".dosage-template");
    template.addEventListener("change", function () {
      const option = template.selectedOptions[0];
      if (!option || !option.value) return;
      line.querySelector(".dosage-text").value = option.dataset.text;
      line.querySelector(".dose").value = option.dataset.dose;
      line.querySelector(".dose_unit").value = option.dataset.unit;
      line.querySelector(".frequency_per_day").value = option.dataset.frequency;
      line.querySelector(".duration_days").value = option.dataset.duration;
      updateQuantity(line);
    });
    line.querySelectorAll(".structured").forEach((field) => field.addEventListener("input", () => updateQuantity(line)));
  }

  function renumber(list) {
    list.querySelectorAll("[data-line]").forEach(function (line, index) {
      line.querySelector(".line-number").textContent = String(index + 1);
      line.querySelector(".remove-line").textContent = "Remove line " + (index + 1);
    });
  }

  function setupLines(form) {
    const list = form.querySelector("#lines");
    const template = form.querySelector("#line-template");
    const searchUrl = form.dataset.searchUrl;
    let next = list.querySelectorAll("[data-line]").length;
    list.querySelectorAll("[data-line]").forEach((line) => setupLine(line, searchUrl));

    form.querySelector("#add-line").addEventListener("click", function () {
      const html = template.innerHTML.replaceAll("__INDEX__", String(next++));
      list.insertAdjacentHTML("beforeend", html);
      const line = list.lastElementChild;
      setupLine(line, searchUrl);
      renumber(list);
      line.querySelector(".medication-search").focus();
    });
    list.addEventListener("click", function (event) {
      const button = event.target.closest(".remove-line");
      if (!button) return;
      const line = button.closest("[data-line]");
      const lines = Array.from(list.querySelectorAll("[data-line]"));
      if (lines.length === 1) {
        line.querySelectorAll("input:not([type=checkbox]), textarea").forEach((field) => { field.value = ""; });
        line.querySelectorAll("input[type=checkbox]").forEach((field) => { field.checked = false; });
        line.querySelector(".medication-search").focus();
        return;
      }
      const previous = lines[Math.max(0, lines.indexOf(line) - 1)];
      line.remove();
      renumber(list);
      (previous === line ? list.querySelector(".medication-search") : previous.querySelector(".medication-search")).focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("prescription-form");
    if (form) {
      setupNir(form);
      setupLines(form);
      // After a refused submission, start where the first problem is.
      const invalid = document.getElementById("form-errors") && form.querySelector("[aria-invalid=true]");
      if (invalid) invalid.focus();
    }
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", () => window.print());
    });
  });
})();
