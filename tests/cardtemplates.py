"""Sentences the card corpus fills in, in French and English, for each kind of text.

Slots: {card} and {card2} a card number, {code} a security code (labelled, or right after the
card), {exp} and {mmyy} an expiry date; any other slot is a look-alike (cardlookalikes.py).
"""

CARD_TEMPLATES = {
    "text": [
        "Bonjour,\n\nVoici ma carte pour le renouvellement : {card}.\n\nCordialement,\nMarie",
        "Mon numéro de CB est le {card}, date d'expiration {exp}, cryptogramme {code}.",
        "Pouvez-vous débiter la carte {card} ? Le code de sécurité est {code}.",
        "Carte {card} exp {exp} CVV {code}",
        "Le paiement avec {card} a été refusé deux fois, je ne comprends pas.",
        "Ma carte :\n{card}\ncryptogramme visuel : {code}\nMerci",
        "{card}",
        "Je n'arrive pas à payer, n° {card} (expire le {exp}).",
        "Bonjour, je vous donne le {card} {code} pour la facture.",
        "Hi,\n\nplease charge my card {card} for the annual plan.\n\nThanks,\nJohn",
        "Card number: {card}\nExpiry: {exp}\nCVV: {code}",
        "Use {card} (security code {code}) for the renewal.",
        "My card {card} was declined, CVC: {code}.",
        "Here it is: {card} exp {exp}",
        "Payment details: {card} {mmyy} {code}",
        "Commande n° {order}, payée avec la carte {card}. Joignable au {phone}.",
        "Order {order} - card {card} - call me on {phone_intl}",
        "Bonjour,\nma commande {order} du {date} n'est pas arrivée (suivi {tracking}).\n"
        "J'ai payé avec {card}.\nTél : {phone}",
        "IBAN pour le remboursement : {iban}. La carte débitée était la {card}.",
        "Two cards: {card} and {card2}, both refused.",
        "Les deux numéros : {card} {card2}",
        "Facture {invoice} réglée par carte {card} le {date}, montant {amount}.",
        "SIRET {siret}\nCarte entreprise : {card}\nCVV2 {code}",
        "Le {date}, j'ai payé {amount} avec la carte {card} ; IP {ip}.",
    ],
    "html": [
        "<html><body><p>Bonjour,</p><p>Voici ma carte&nbsp;: {card}</p><p>Cordialement</p>"
        "</body></html>",
        "<div>Card number: {card}<br>Expiry: {exp}<br>CVV: {code}</div>",
        "<table><tr><td>Carte</td><td>{card}</td></tr><tr><td>Cryptogramme</td><td>{code}</td>"
        "</tr></table>",
        "<p>Please charge <b>{card}</b> today.</p>",
        '<blockquote type="cite"><div>Ma carte : {card}</div></blockquote>',
        "<p>Commande n°&nbsp;{order}</p><p>Carte : {card}</p><p>Tél : {phone}</p>",
        '<div dir="ltr">{card}<div><br></div><div>Merci</div></div>',
        "<p>My card {card}, security code <span>{code}</span></p>",
    ],
    "subject": [
        "Re: [VB #4821] Paiement carte {card}",
        "Card {card} declined",
        "TR: ma CB {card} exp {exp}",
        "{card}",
        "Fwd: commande {order} - carte {card}",
    ],
    "filename": [
        "carte_{card}.pdf",
        "Scan {card}.jpg",
        "{card}.png",
        "CB-{card}-recto.pdf",
        "IMG_20240512_{card}.jpeg",
    ],
    "card-word": [
        "Ma carte {card} ne passe plus.",
        "Here is my card: {card}",
        "Numéro de carte de paiement {card}, exp {exp}, CVV {code}",
        "Vieille carte Visa {card} à supprimer",
    ],
}

_TEXT = {
    "phone": [
        "Vous pouvez me joindre au {phone}.",
        "Tél. {phone} - Fax {phone}",
        "Joignable au {phone} ou au {phone}",
        "Cordialement,\nJean Dupont\n{phone}\n{phone}",
        "Call me on {phone_intl} or {phone_intl}.",
        "Mes numéros : {phone} {phone}",
    ],
    "iban": [
        "IBAN : {iban}",
        "Merci de rembourser sur {iban} (BIC BNPAFRPPXXX).",
        "Here are my bank details:\n{iban}",
        "RIB : {rib}",
        "Please refund to {iban}, thanks.",
    ],
    "order": [
        "Commande n° {order}",
        "Bonjour, ma commande {order} n'est pas arrivée.",
        "Order #{order} was charged twice.",
        "N° de commande : {order}\nDate : {date}",
        "Your order number: {order}",
        "Détail : https://shop.example/commande/{order}",
    ],
    "invoice": [
        "Facture n° {invoice}",
        "Invoice {invoice} is overdue.",
        "Merci de m'envoyer la facture {invoice} du {date}.",
    ],
    "tracking": [
        "Suivi du colis : {tracking}",
        "Tracking number {tracking}",
        "Le colis {tracking} est bloqué depuis le {date}.",
        "Numéro de suivi\n{tracking}",
    ],
    "siret": [
        "SIRET : {siret}",
        "SAS au capital de 10 000 € - RCS Paris {siren} - SIRET {siret}",
        "N° SIRET {siret}\nN° TVA intracommunautaire : FR{tva}",
        "Société Exemple, {siret}, 12 rue de la Paix",
    ],
    "date": ["Le {date}, j'ai appelé.", "Rendez-vous du {date}", "Logged at {date}."],
    "ip": ["Connexion depuis {ip}", "Blocked IPs: {ip}", "Le serveur {ip} ne répond plus."],
    "long": ["Référence de virement : {long}", "Code : {long}", "{long}"],
    "amount": ["Montant : {amount}", "Total {amount} TTC", "I paid {amount} already."],
    "ean": [
        "EAN : {ean}",
        "- Chargeur USB-C {ean} x1\n- Câble {ean} x2",
        "Code-barres {ean}",
    ],
    "device": [
        "IMEI : {imei}",
        "Mon téléphone ({imei}) ne s'allume plus depuis que j'ai changé de carte SIM.",
        "Carte SIM : {iccid}",
        "ICCID {iccid}",
    ],
    "nir": ["N° de sécurité sociale : {nir}", "Mon numéro {nir} figure sur la carte vitale."],
    "other_range": [
        "Code d'activation : {other_range}",
        "Voici le numéro qui figure sur le bon : {other_range}",
        "Account {other_range} updated.",
    ],
    "random_id": ["Le numéro {random_id} ne fonctionne pas.", "Ref {random_id}", "{random_id}"],
    "timestamp": ["Voir {timestamp}", "event at {timestamp}"],
}

_HTML = {
    "phone": ["<p>Tél.&nbsp;: <b>{phone}</b><br>Mobile&nbsp;: {phone}</p>"],
    "iban": ["<table><tr><td>IBAN</td><td>{iban}</td></tr></table>"],
    "order": ["<p>Commande n°&nbsp;<b>{order}</b> du {date}</p>"],
    "tracking": ['<p>Suivi : <a href="https://suivi.example/{tracking}">{tracking}</a></p>'],
    "siret": ["<p>SIRET&nbsp;{siret} &ndash; <span>{phone}</span></p>"],
    "mixed": [
        "<table><tr><td>{ean}</td><td>{amount}</td></tr><tr><td>{date}</td><td>{ip}</td></tr>"
        "</table>"
    ],
}

_SUBJECT = {
    "order": ["Re: [VB #4821] Commande {order}", "Order {order} not received"],
    "mixed": ["Facture {invoice} du {date}", "Appel du {phone}", "Colis {tracking}"],
}

_FILENAME = {
    "order": ["commande_{order}.pdf", "Facture-{invoice}.pdf"],
    "mixed": ["IMG_{date}.jpg", "{ean}.png", "scan {long}.pdf", "releve_{iban}.pdf"],
}

LOOKALIKE_TEMPLATES = {"text": _TEXT, "html": _HTML, "subject": _SUBJECT, "filename": _FILENAME}
