// Signing with an injected wallet (EIP-1193, window.ethereum): Sign-In with Ethereum (personal_sign) on the
// sign-in page, and an action's typed data (eth_signTypedData_v4) on an action's page. The wallet's chain id is
// checked against the gateway's first; the gateway checks everything again (the signature, the signer, the
// content signed).
"use strict";

(function () {
  function wallet() {
    return window.ethereum && typeof window.ethereum.request === "function" ? window.ethereum : null;
  }

  function show(element, text) {
    element.textContent = text;
    element.hidden = false;
  }

  // The wallet's first account, once its chain is the gateway's; else an Error whose message says what is wrong.
  async function connect(provider, gatewayChainId, wrongChain) {
    const accounts = await provider.request({ method: "eth_requestAccounts" });
    const chainId = parseInt(await provider.request({ method: "eth_chainId" }), 16);
    if (chainId !== gatewayChainId) {
      throw new Error(wrongChain.replace("{wallet}", String(chainId)).replace("{gateway}", String(gatewayChainId)));
    }
    if (!accounts || !accounts.length) {
      throw new Error("the wallet gave no account");
    }
    return accounts[0];
  }

  function utf8Hex(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function postForm(url, fields) {
    const body = new URLSearchParams(fields);
    const response = await fetch(url, { method: "POST", body: body, credentials: "same-origin" });
    const answer = await response.json();
    if (!response.ok) {
      throw new Error(answer.detail || response.statusText);
    }
    return answer;
  }

  function setUpSignIn(section) {
    const button = document.getElementById("wallet-sign-in-button");
    const error = document.getElementById("wallet-error");
    const provider = wallet();
    if (!provider) {
      return; // the page says no wallet was found (and without JavaScript, the same)
    }
    document.getElementById("wallet-missing").hidden = true;
    button.hidden = false;
    button.addEventListener("click", async function () {
      error.hidden = true;
      button.disabled = true;
      try {
        const csrf = section.dataset.csrf;
        const address = await connect(provider, Number(section.dataset.chainId), section.dataset.wrongChain);
        const asked = await postForm("/ui/sign-in/wallet/message", { csrf: csrf, address: address });
        const signature = await provider.request({ method: "personal_sign", params: [utf8Hex(asked.message), address] });
        const done = await postForm("/ui/sign-in/wallet", { csrf: csrf, message: asked.message, signature: signature });
        window.location.assign(done.next);
      } catch (problem) {
        show(error, problem && problem.message ? problem.message : String(problem));
        button.disabled = false;
      }
    });
  }

  function setUpSigning(form) {
    const button = document.getElementById("sign-wallet");
    const error = document.getElementById("wallet-error");
    const provider = wallet();
    if (!provider) {
      return; // the wallet's button stays hidden; the demo signer (dev chains) needs no script
    }
    button.hidden = false;
    button.addEventListener("click", async function (event) {
      event.preventDefault();
      error.hidden = true;
      button.disabled = true;
      try {
        const account = await connect(provider, Number(form.dataset.chainId), form.dataset.wrongChain);
        const signer = form.dataset.signer;
        if (account.toLowerCase() !== signer.toLowerCase()) {
          throw new Error("the wallet's account " + account + " is not the signed-in account " + signer);
        }
        const typed = document.getElementById("typed-data").textContent;
        const signature = await provider.request({ method: "eth_signTypedData_v4", params: [signer, typed] });
        form.elements.namedItem("signature").value = signature;
        const chosen = document.createElement("input");
        chosen.type = "hidden";
        chosen.name = "signer";
        chosen.value = "wallet";
        form.appendChild(chosen);
        form.submit();
      } catch (problem) {
        show(error, problem && problem.message ? problem.message : String(problem));
        button.disabled = false;
      }
    });
  }

  function start() {
    const section = document.getElementById("wallet-sign-in");
    if (section) {
      setUpSignIn(section);
    }
    const form = document.getElementById("sign-form");
    if (form) {
      setUpSigning(form);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
