# Svenska texter. Nycklarna används i sidmallarna med t("nyckel"); variabler skickas med namn,
# tal som tal så att pluralformerna väljs rätt: t("email-invite-validity", days=invite_days).
product-name = Leasify ID
language-switch = Välj språk
login-title = Logga in
login-heading = Logga in
login-for-app = Du loggar in till
field-email = E-postadress
field-password = Lösenord
login-submit = Logga in
login-invalid = Fel e-post eller lösenord.
login-throttled = För många misslyckade försök. Vänta en stund och försök igen.
home-intro = Här loggar du in till Leasifys tjänster.
home-logged-in-as = Du är inloggad som
form-post-title = Skickar vidare …
form-post-noscript = JavaScript är avstängt. Tryck på knappen för att fortsätta.
form-post-continue = Fortsätt
error-title = Något gick fel
error-reference = Felreferens:
error-missing-client-id = Länken saknar uppgift om vilken tjänst du vill logga in till. Gå tillbaka till tjänsten och försök igen.
error-unknown-client = Tjänsten som skickade dig hit är inte registrerad hos Leasify ID.
error-missing-redirect-uri = Länken saknar adressen du ska skickas tillbaka till. Gå tillbaka till tjänsten och försök igen.
error-unregistered-redirect-uri = Tjänsten bad om att skicka dig till en adress som inte är registrerad. Av säkerhetsskäl skickas du inte dit.
error-request-expired = Inloggningen tog för lång tid eller är redan avslutad. Gå tillbaka till tjänsten och börja om.
error-invalid-csrf = Formuläret hade gått ut. Ladda om sidan och försök igen.
error-bad-request = Förfrågan kunde inte tolkas.
error-not-found = Sidan finns inte.
error-internal = Ett tekniskt fel uppstod. Försök igen om en stund.
error-unavailable = Tjänsten är tillfälligt otillgänglig. Försök igen om en liten stund.

# E-post
email-invite-subject = Välkommen till Leasify – välj ditt lösenord
email-reset-subject = Återställ ditt lösenord till Leasify
email-password-changed-subject = Ditt lösenord har ändrats
email-personnummer-removed-subject = Personnumret har tagits bort från ditt Leasify-konto
email-pnr-removed-intro = Personnumret som var sparat på ditt Leasify-konto har tagits bort.
email-pnr-removed-why = Innehavaren av personnumret har bekräftat det med BankID på ett annat konto. Ett personnummer kan bara vara kopplat till ett konto.
email-pnr-removed-yours = Om personnumret är ditt, kontakta oss:
email-pnr-removed-account = Du loggar fortfarande in med e-post och lösenord som vanligt. Dina uppgifter:
email-greeting = Hej
email-invite-intro = Välkommen som kund till Leasify! Du har lagts upp som användare. Välj ett lösenord så kan du logga in i Leasifys portal.
email-invite-button = Välj lösenord
email-invite-validity = Länken gäller i { $days ->
        [one] { $days } dag
       *[other] { $days } dagar
    }.
email-invite-bankid = När du har loggat in kan du lägga till ditt personnummer under Mina uppgifter och därefter logga in med BankID.
email-link-once = Den kan bara användas en gång.
email-read-more = Läs mer
email-link-fallback = Fungerar inte knappen? Kopiera länken till din webbläsare:
email-reset-intro = Någon (förhoppningsvis du) har begärt att lösenordet till ditt Leasify-konto ska återställas.
email-reset-button = Välj nytt lösenord
email-reset-validity = Länken gäller i { $minutes ->
        [one] { $minutes } minut
       *[other] { $minutes } minuter
    }.
email-reset-not-you = Om det inte var du kan du bortse från det här meddelandet. Ditt lösenord ändras inte förrän du väljer ett nytt.
email-changed-intro = Lösenordet till ditt Leasify-konto har just ändrats.
email-changed-sessions = Av säkerhetsskäl har du loggats ut på andra enheter.
email-changed-not-you = Var det inte du? Återställ lösenordet direkt och kontakta oss:
email-footer-help = Hjälp:
email-footer-support = Support:

# Mina uppgifter, lösenord
login-forgot = Glömt lösenord?
account-title = Mina uppgifter
account-details = Dina uppgifter
account-email-help = Kontakta oss om du behöver byta e-postadress.
account-save = Spara
account-saved = Dina uppgifter är sparade.
account-change-password = Byt lösenord
account-save-password = Byt lösenord
account-password-changed = Ditt lösenord är bytt. Du har loggats ut på andra enheter.
field-name = Namn
field-language = Språk
field-current-password = Nuvarande lösenord
field-new-password = Nytt lösenord
field-confirm-password = Upprepa nytt lösenord
# "tecken" är samma i singular och plural.
password-rules = Minst { $min } tecken. Välj något som är svårt att gissa, till exempel flera ord i en mening.
password-too-short = Lösenordet är för kort. Det måste ha minst { $min } tecken.
password-too-long = Lösenordet är för långt.
password-mismatch = Lösenorden är inte likadana. Skriv samma lösenord i båda fälten.
password-weak = Lösenordet är för lätt att gissa. Undvik vanliga ord, ditt namn och enkla mönster – använd gärna flera ord.
current-password-wrong = Det nuvarande lösenordet stämmer inte.
account-throttled = För många försök. Vänta en stund och försök igen.
invalid-name = Namnet får inte vara tomt.
name-too-long = Namnet får vara högst 200 tecken.
name-control-characters = Namnet får inte innehålla radbrytningar, tabbar eller andra styrtecken.
logout = Logga ut
logged-out-title = Du är utloggad
logged-out-message = Du har loggats ut från Leasify ID.
login-again = Logga in igen
set-password-invite-title = Välj lösenord
set-password-reset-title = Välj nytt lösenord
set-password-for = Konto:
set-password-submit = Spara lösenord
forgot-title = Glömt lösenord?
forgot-intro = Skriv din e-postadress så skickar vi en länk där du kan välja ett nytt lösenord.
forgot-submit = Fortsätt
forgot-sent-title = Kolla din e-post
forgot-sent-message = Om adressen finns hos oss har vi skickat en länk för att välja nytt lösenord. Länken gäller i { $minutes ->
        [one] { $minutes } minut
       *[other] { $minutes } minuter
    }. Hittar du inget mejl? Titta i skräpposten.
back-to-login = Tillbaka till inloggningen
link-used-title = Länken är redan använd
link-used-message = Länken har redan använts och fungerar bara en gång. Du kan få en ny länk skickad till samma e-postadress.
link-expired-title = Länken har gått ut
link-expired-message = Länken är inte längre giltig. Du kan få en ny länk skickad till samma e-postadress.
link-unknown-title = Länken fungerar inte
link-unknown-message = Länken är ogiltig. Kontrollera att du kopierat hela länken, eller begär en ny via Glömt lösenord.
link-resend = Skicka en ny länk
link-resent-title = Kolla din e-post
link-resent-message = Om kontot finns kvar har vi skickat en ny länk till samma e-postadress.
password-set-title = Lösenordet är sparat

# --- Personnummer and BankID messages (src/account/personnummer.rs, src/bankid/messages.rs, src/bankid/qr.rs) ---
# Personnummer input errors (PersonnummerError::message_key).
pnr-invalid-format = Kontrollera att personnumret har 10 eller 12 siffror, till exempel 811228-9874.
pnr-invalid-date = Personnumret innehåller inget giltigt datum. Kontrollera födelsedatumet.
pnr-invalid-checksum = Personnumret stämmer inte. Kontrollera att alla siffror är rätt, särskilt de fyra sista.
pnr-future-date = Födelsedatumet i personnumret ligger i framtiden. Kontrollera årtalet.
# BankID's recommended user messages (RFA), with BankID's typos fixed, and two of our own.
bankid-rfa1 = Starta BankID-appen.
bankid-rfa2 = Du verkar inte ha BankID-appen. Installera den och skaffa ett BankID.
bankid-rfa3 = Åtgärden avbröts. Försök igen.
bankid-rfa4 = En identifiering eller underskrift pågår redan för ditt personnummer. Försök igen.
bankid-rfa5 = Något gick fel. Försök igen.
bankid-rfa6 = Åtgärden avbröts.
bankid-rfa8 = BankID-appen svarar inte. Kontrollera att den är startad och att du har internetanslutning. Försök sedan igen.
bankid-rfa9 = Skriv in din säkerhetskod i BankID-appen och välj Identifiera eller Skriv under.
bankid-rfa13 = Försöker starta BankID-appen.
bankid-rfa15a = Söker efter BankID. Säkerställ att du har ett giltigt BankID på den här datorn. Om du har ett BankID på kort, sätt in kortet i kortläsaren.
bankid-rfa15b = Söker efter BankID. Säkerställ att du har ett giltigt BankID på den här enheten.
bankid-rfa16 = Ditt BankID är för gammalt eller spärrat. Använd ett annat BankID eller skaffa ett nytt hos din bank.
bankid-rfa17a = Du verkar inte ha BankID-appen/programmet. Installera den och skaffa ett BankID hos din bank.
bankid-rfa17b = Misslyckades att läsa av QR-koden. Starta BankID-appen och läs av QR-koden.
bankid-rfa19 = Vill du använda BankID på den här datorn eller ett Mobilt BankID?
bankid-rfa20 = Vill du använda BankID på den här enheten eller på en annan enhet?
bankid-rfa21 = En identifiering eller underskrift pågår.
bankid-rfa22 = Något gick fel. Försök igen.
bankid-rfa23 = Fotografera och läs av din ID-handling med BankID-appen.
bankid-confirm-call = Bekräfta i BankID-appen att du är i ett samtal med oss.
bankid-update-app = Uppdatera BankID-appen och försök igen.
bankid-qr-label = QR-kod för BankID. Läs av den med BankID-appen.

# Personnummer i Mina uppgifter
account-personnummer = Personnummer
account-personnummer-intro = Lägg till ditt personnummer för att senare kunna koppla BankID och logga in med det. Personnumret lagras krypterat.
account-personnummer-none = Inget personnummer sparat.
account-personnummer-saved-as = Sparat personnummer:
account-personnummer-bankid-linked = BankID är kopplat.
account-personnummer-bankid-not-linked = BankID är inte kopplat ännu.
field-personnummer = Personnummer (ÅÅÅÅMMDD-NNNN)
field-password-confirm = Ditt lösenord (för att bekräfta)
account-personnummer-save = Spara personnummer
account-personnummer-remove = Ta bort personnummer
account-personnummer-saved = Personnumret är sparat.
account-personnummer-removed = Personnumret är borttaget.
bankid-verified-elsewhere = Ditt BankID är redan kopplat till ett annat konto hos Leasify. Logga in med BankID för att komma till det kontot, eller kontakta support om du vill flytta kopplingen.

# BankID-sidor
bankid-title = Logga in med BankID
bankid-link-title = Koppla BankID
bankid-complete = Klart! Du skickas vidare …
bankid-open-on-this-device = Öppna BankID på den här enheten
bankid-cancel = Avbryt
bankid-try-again = Försök igen
bankid-noscript = Sidan behöver JavaScript för att visa QR-koden. Öppna BankID på den här enheten i stället.
bankid-no-linked-account = Inget konto hos oss har BankID kopplat för ditt personnummer. Logga in med e-post och lösenord, lägg till ditt personnummer under Mina uppgifter och välj Koppla BankID.
bankid-account-disabled = Kontot är spärrat. Kontakta support.
bankid-wrong-person = Personnumret stämmer inte med det du angett. BankID:t som användes tillhör någon annan, så inget har kopplats. Kontrollera personnumret under Mina uppgifter, eller skanna med ditt eget BankID.
login-with-bankid = Logga in med BankID
login-or = eller
account-bankid-link = Visa QR-kod
account-bankid-linked = BankID är kopplat. Nästa gång kan du logga in med BankID.

logout-confirm-title = Logga ut?
logout-confirm-message = Vill du logga ut från Leasify ID?
logout-confirm-unverified = Begäran om utloggning kom från en app som inte kunde identifieras.
logout-confirm-invalid-hint = Begäran om utloggning kunde inte verifieras.
logout-confirm-unregistered = Appen bad om att få skicka dig till en adress som inte är registrerad, så du stannar här efter utloggningen.
logout-confirm-another-user = Begäran om utloggning gällde en annan användare än den som är inloggad här.
logout-confirm-button = Logga ut
logout-stay = Stanna inloggad
login-bankid-required = Appen kräver inloggning med BankID.

consent-title = Ge behörighet
consent-intro = Appen vill få tillgång till följande uppgifter om dig:
consent-approve = Tillåt
consent-deny = Neka
consent-revocable = Du kan återkalla behörigheten när som helst under Mina uppgifter.
scope-openid = Ditt användar-id hos Leasify ID
scope-profile = Ditt namn och språk
scope-email = Din e-postadress
scope-offline_access = Att vara inloggad i appen även när du inte använder den
scope-personnummer = Ditt personnummer
consents-heading = Appar med behörighet
consents-none = Inga appar har fått behörighet.
activity-heading = Senaste aktivitet
activity-none = Inga inloggningar ännu.
activity-method-password = Inloggning med lösenord
activity-method-bankid = Inloggning med BankID
activity-failed = misslyckades
consents-revoke = Återkalla
consents-granted = Tillåtet
consent-revoked = Behörigheten är återkallad.
