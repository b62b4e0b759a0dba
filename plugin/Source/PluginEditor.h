#pragma once

#include <juce_audio_processors/juce_audio_processors.h>
#include <juce_gui_extra/juce_gui_extra.h>
#include "PluginProcessor.h"

/// Speaker picker (bundled + user speakers, file chooser, recent files), the knobs, latency in ms,
/// CPU load and overloads, input/output meters, status messages.
class TMRVCEditor : public juce::AudioProcessorEditor, private juce::Timer {
public:
    explicit TMRVCEditor(TMRVCProcessor&);
    ~TMRVCEditor() override;
    void paint(juce::Graphics&) override;
    void resized() override;

private:
    void timerCallback() override;
    void chooseFile();

    struct Knob {
        juce::Slider slider { juce::Slider::RotaryHorizontalVerticalDrag, juce::Slider::TextBoxBelow };
        juce::Label label;
        std::unique_ptr<juce::AudioProcessorValueTreeState::SliderAttachment> attachment;
    };

    TMRVCProcessor& processor;
    Knob knobs[6];
    juce::ComboBox speaker, registerMode;
    juce::TextButton loadButton { "Load..." };
    juce::ToggleButton bypass { "bypass" };
    std::unique_ptr<juce::AudioProcessorValueTreeState::ComboBoxAttachment> registerAttachment;
    std::unique_ptr<juce::AudioProcessorValueTreeState::ButtonAttachment> bypassAttachment;
    std::unique_ptr<juce::FileChooser> chooser;
    juce::RecentlyOpenedFilesList recent;
    juce::String latencyText, loadText, statusText;
    float inLevel = 0, outLevel = 0;
    bool overloaded = false;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(TMRVCEditor)
};
